"""The in-process worker: persona + memory + batched engine behind the `Worker` interface.

`atri serve` and `atri chat` use this directly; `atri worker` puts it behind HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict, deque

from atri.config import Settings
from model.batching import Batcher, Overloaded
from model.engine import Engine, Generation, create_engine
from model.memory import Memory, channel_prefix, scope_key
from model.metrics import WorkerMetrics
from model.ooc import OOCDetector
from model.persona import Persona, configured_persona
from model.prompt import (
    TEMPLATE_OVERHEAD_TOKENS,
    ChatMessages,
    build_messages,
    clean_reply,
    count_message_tokens,
    history_budget,
)
from model.protocol import SHARED_SCOPE, ChatRequest, ReloadResult, Reply, ScopeRef, WorkerStatus
from model.reload import Reloader

log = logging.getLogger(__name__)

EMPTY_MESSAGE_REPLY = "嗯？你想对亚托莉说什么呢？"
RATE_WINDOW_SECONDS = 60.0
TOKEN_COUNT_CACHE = 16384  # texts whose token counts are remembered


class RateLimiter:
    """At most `per_minute` messages per key in any 60-second window (0 = no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        seen = self._seen[key]
        while seen and now - seen[0] >= RATE_WINDOW_SECONDS:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return False
        seen.append(now)
        return True


class ChatService:
    def __init__(
        self, settings: Settings, engine: Engine, memory: Memory, persona: Persona
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.memory = memory
        self.persona = persona
        self.ooc = OOCDetector(settings.ooc)
        # Every message re-counts its conversation's history (and /v1 clients resend
        # whole chats), so counts of recent texts are kept.
        self.count_tokens = functools.lru_cache(maxsize=TOKEN_COUNT_CACHE)(engine.count_tokens)
        # The same for every user (see Persona.system_prompt), so built and counted once.
        self.system_prompt = persona.system_prompt()
        self._system_tokens = self.count_tokens(self.system_prompt)
        w = settings.worker
        self.metrics = WorkerMetrics()
        self.batcher = Batcher(
            engine,
            settings.generation,
            w.max_batch,
            w.batch_window_ms / 1000,
            w.queue_size,
            on_batch=self.metrics.observe_batch,
        )
        self.metrics.watch_queue(lambda: self.batcher.depth)
        self.rate_limiter = RateLimiter(w.rate_limit_per_minute)
        self.started = time.monotonic()
        self.ooc_regenerations = 0
        self.last_reload: dict[str, object] = {}
        smoke = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": settings.reload.smoke_prompt},
        ]
        self.reloader = Reloader(settings, engine, smoke, on_result=self._on_reload)
        # Messages of one conversation are answered in order, so history stays coherent.
        self._scope_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @classmethod
    async def open(cls, settings: Settings, engine: Engine | None = None) -> ChatService:
        persona = configured_persona(settings)
        memory = await Memory.open(settings.path(settings.memory.path))
        try:
            engine = engine or await create_engine(settings)
        except BaseException:
            await memory.close()
            raise
        service = cls(settings, engine, memory, persona)
        service.batcher.start()
        service.reloader.start()
        return service

    async def close(self) -> None:
        await self.reloader.stop()
        await self.batcher.stop()
        await self.engine.close()
        await self.memory.close()

    async def __aenter__(self) -> ChatService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def scope_for(
        self, platform: str, user_id: str, channel_id: str = "", guild_id: str = ""
    ) -> str:
        return scope_key(self.settings.memory.scope, platform, user_id, channel_id, guild_id)

    async def chat(self, request: ChatRequest) -> Reply:
        started = time.monotonic()
        scope = self.scope_for(
            request.platform, request.user_id, request.channel_id, request.guild_id
        )
        text = request.text.strip()
        if not text:
            return Reply(text=EMPTY_MESSAGE_REPLY, scope=scope)
        if not self.rate_limiter.allow(f"{request.platform}:{request.user_id}"):
            return Reply(text=self.settings.worker.busy_reply, scope=scope, status="rate_limited")
        try:
            async with self._scope_locks[scope]:
                reply = await asyncio.wait_for(
                    self._answer(scope, request, text),
                    timeout=self.settings.worker.request_timeout_seconds,
                )
        except (TimeoutError, Overloaded) as exc:
            log.warning("busy reply for %s: %s", scope, exc or "timed out")
            reply = Reply(text=self.settings.worker.busy_reply, scope=scope, status="busy")
        except Exception:
            log.exception("chat failed for %s", scope)
            reply = Reply(text=self.settings.worker.error_reply, scope=scope, status="error")
        reply.latency_ms = (time.monotonic() - started) * 1000
        self.metrics.observe_reply(reply)
        return reply

    async def complete(self, messages: ChatMessages, scope: str = "") -> Reply:
        """Answer a conversation the caller keeps (the OpenAI-compatible API): same
        batcher, OOC guard, timeout and busy reply as chat(), but no memory is read."""
        started = time.monotonic()
        try:
            generation, retries = await asyncio.wait_for(
                self._generate_in_character(messages, self.settings.persona.user_name),
                timeout=self.settings.worker.request_timeout_seconds,
            )
            reply = Reply(
                text=generation.text,
                scope=scope,
                adapter_version=generation.adapter_version,
                ooc_retries=retries,
            )
        except (TimeoutError, Overloaded) as exc:
            log.warning("busy reply for an API completion: %s", exc or "timed out")
            reply = Reply(text=self.settings.worker.busy_reply, scope=scope, status="busy")
        except Exception:
            log.exception("API completion failed")
            reply = Reply(text=self.settings.worker.error_reply, scope=scope, status="error")
        reply.latency_ms = (time.monotonic() - started) * 1000
        self.metrics.observe_reply(reply, api="openai")
        return reply

    async def _answer(self, scope: str, request: ChatRequest, text: str) -> Reply:
        name = request.display_name or self.settings.persona.user_name
        shared = self.settings.memory.scope == "channel" and bool(request.channel_id)
        system = self.system_prompt
        text = self._fit_message(text)
        fixed = count_message_tokens(self.count_tokens, [{"role": "user", "content": text}])
        fixed += self._system_tokens + TEMPLATE_OVERHEAD_TOKENS
        budget = history_budget(
            self.engine.context_window,
            self.settings.generation.max_new_tokens,
            self.settings.memory.max_history_tokens,
            fixed,
        )
        history = await self.memory.history(
            scope,
            count_tokens=lambda s: self.count_tokens(s) + TEMPLATE_OVERHEAD_TOKENS,
            max_tokens=budget,
            max_messages=self.settings.memory.max_history_messages,
        )
        messages = build_messages(system, history, text, name, shared)
        generation, retries = await self._generate_in_character(messages, name)
        # Shielded: a timeout landing here must not cancel the write. The exchange was
        # answered; it is stored whole (in the next group commit) even if this caller
        # gives up waiting.
        await asyncio.shield(
            self.memory.append_many(
                scope,
                [
                    ("user", request.user_id, request.display_name, text, ""),
                    (
                        "assistant",
                        "",
                        self.persona.name,
                        generation.text,
                        generation.adapter_version,
                    ),
                ],
            )
        )
        return Reply(
            text=generation.text,
            scope=scope,
            adapter_version=generation.adapter_version,
            ooc_retries=retries,
        )

    def _fit_message(self, text: str) -> str:
        """Trim a message too long for the context window (keep its start)."""
        room = self.engine.context_window - self.settings.generation.max_new_tokens
        room -= self._system_tokens + 32
        while len(text) > 1 and self.count_tokens(text) > room:
            text = text[: len(text) * 3 // 4]
        return text

    async def _generate_in_character(
        self, messages: list[dict[str, str]], user_name: str
    ) -> tuple[Generation, int]:
        """Generate, regenerating up to `ooc_max_retries` times while the reply breaks
        character or comes out empty; the last attempt is used if none passes.

        The system prompt and the training data say `{{user}}`, so a trained model
        writes it where she addresses the person: their name goes in here."""
        attempts = self.settings.worker.ooc_max_retries + 1
        generation = Generation(text="", new_tokens=0)
        for attempt in range(attempts):
            generation = await self.batcher.submit(messages)
            generation.text = self.persona.fill(
                clean_reply(generation.text, self.persona.name), user_name
            )
            verdict = self.ooc.check(generation.text)
            if generation.text and not verdict.flagged:
                return generation, attempt
            if attempt + 1 < attempts:
                self.ooc_regenerations += 1
                self.metrics.ooc_regenerations.inc()
                log.info(
                    "regenerating an out-of-character reply: %s",
                    ", ".join(verdict.reasons) or "empty",
                )
        if not generation.text:
            generation.text = "……"
        return generation, attempts - 1

    def _scope_of(self, ref: ScopeRef) -> str:
        return self.scope_for(ref.platform, ref.user_id, ref.channel_id, ref.guild_id)

    async def reset(self, scope: ScopeRef) -> int:
        kind = self.settings.memory.scope
        if not scope.user_id:  # the whole channel
            if not scope.channel_id or kind == "user":
                return 0  # memory is per user: nothing belongs to the channel
            if kind == "user_in_channel":
                prefix = channel_prefix(scope.platform, scope.channel_id, scope.guild_id)
                return await self.memory.reset_prefix(prefix + ":")
        elif kind == "channel" and scope.channel_id:
            return SHARED_SCOPE
        return await self.memory.reset(self._scope_of(scope))

    async def purge(self, scope: ScopeRef) -> int:
        if not scope.user_id and not scope.channel_id:
            return 0
        return await self.memory.purge(self._scope_of(scope))

    async def status(self) -> WorkerStatus:
        stats = self.engine.stats
        return WorkerStatus(
            engine=self.engine.name,
            base_model=self.engine.base_id,
            adapter_version=self.engine.adapter_version,
            queue_depth=self.batcher.depth,
            uptime_seconds=time.monotonic() - self.started,
            last_reload=dict(self.last_reload),
            details={
                "generate_calls": stats.generate_calls,
                "generated_rows": stats.generated_rows,
                "generated_tokens": stats.generated_tokens,
                "prompt_tokens": stats.prompt_tokens,
                "prefix_cache_reused_tokens": stats.prefix_reused_tokens,
                "ooc_regenerations": self.ooc_regenerations,
                "memory_scope": self.settings.memory.scope,
                "reload_job": self.reloader.running,
                "loaded_adapters": list(self.reloader.loaded),
            },
        )

    async def reload(self, version: str = "") -> ReloadResult:
        """Switch to adapter `version`, or to the newest complete one in the adapters folder."""
        return await self.reloader.reload(version)

    async def rollback(self) -> ReloadResult:
        """Go back to the adapter version before the live one (or to the base model)."""
        return await self.reloader.rollback()

    def _on_reload(self, result: ReloadResult, record: dict[str, object]) -> None:
        self.last_reload = dict(record)
        self.metrics.observe_reload(result, kind=str(record.get("kind", "reload")))

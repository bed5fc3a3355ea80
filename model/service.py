"""The in-process worker: character + memory + batched engine behind the `Worker` interface.

Every conversation path comes here: the bots and the console through `chat`, the OpenAI
API through the same `chat` with the client's own context. One method applies the rate
limit, the per-conversation lock, the deadline, the context fitting, the out-of-character
guard and the shielded memory write, so no path can drift from the others.
`atri serve` and `atri chat` use this directly; `atri worker` puts it behind HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from atri.config import Settings
from model.adapters.reload import Reloader
from model.adapters.versions import recorded_prompt
from model.batching import Batcher, Overloaded
from model.character.ooc import OOCDetector
from model.character.persona import Persona, configured_persona
from model.character.prompt import (
    ChatMessages,
    PastTurn,
    PromptTooLong,
    Turn,
    Window,
    clean_reply,
    fit_prompt,
)
from model.engines import create_engine
from model.engines.base import Engine, Generation
from model.memory import Memory, channel_prefix, scope_key
from model.metrics import WorkerMetrics
from model.protocol import (
    SHARED_SCOPE,
    Character,
    ChatRequest,
    HistoryEntry,
    ReloadResult,
    Reply,
    ScopeRef,
    WorkerStatus,
)

log = logging.getLogger(__name__)

EMPTY_MESSAGE_REPLY = "嗯？你想对亚托莉说什么呢？"
RATE_WINDOW_SECONDS = 60.0
TOKEN_COUNT_CACHE = 16384  # texts whose token counts are remembered
# Generations per message when a reload lands between building the prompt and the batch.
PROMPT_SWITCH_ATTEMPTS = 2


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
        # The card is the same for every user (see Persona.system_prompt), so built once.
        self.card_prompt = persona.system_prompt()
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
        start_adapter = settings.model.adapter
        self.reloader = Reloader(
            settings.reload,
            settings.path(settings.model.adapters_dir),
            settings.root,
            engine,
            self.card_prompt,
            settings.reload.smoke_prompt,
            on_result=self._on_reload,
            live_prompt=recorded_prompt(settings.path(start_adapter)) if start_adapter else None,
        )
        # Messages of one conversation are answered in order, so history stays coherent.
        self._scope_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def system_prompt(self) -> str:
        """The live version's prompt: the one it was trained with; the card with no adapter."""
        return self.reloader.prompt_for(self.engine.adapter_version)

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
        """The memory key of a message: decided here, from this worker's config."""
        return scope_key(self.settings.memory.scope, platform, user_id, channel_id, guild_id)

    def _scope_of(self, ref: ScopeRef | ChatRequest) -> str:
        return self.scope_for(ref.platform, ref.user_id, ref.channel_id, ref.guild_id)

    async def chat(self, request: ChatRequest) -> Reply:
        """Answer one message. An anonymous request (no user id) is neither stored nor
        rate-limited; one that brings its own context does not read stored memory."""
        started = time.monotonic()
        scope = self._scope_of(request) if request.user_id else ""
        text = request.text.strip()
        if not text:
            reply = Reply(text=EMPTY_MESSAGE_REPLY, scope=scope)
        elif request.user_id and not self.rate_limiter.allow(
            f"{request.platform}:{request.user_id}"
        ):
            reply = Reply(text=self.settings.worker.busy_reply, scope=scope, status="rate_limited")
        else:
            reply = await self._answer_in_order(scope, request, text)
        reply.latency_ms = (time.monotonic() - started) * 1000
        self.metrics.observe_reply(reply, api="chat" if request.context is None else "openai")
        return reply

    async def _answer_in_order(self, scope: str, request: ChatRequest, text: str) -> Reply:
        lock = self._scope_locks[scope] if scope else contextlib.nullcontext()
        try:
            async with lock:
                return await asyncio.wait_for(
                    self._answer(scope, request, text),
                    timeout=self.settings.worker.request_timeout_seconds,
                )
        except (TimeoutError, Overloaded) as exc:
            log.warning("busy reply for %s: %s", scope or "an anonymous client", exc or "timed out")
            return Reply(text=self.settings.worker.busy_reply, scope=scope, status="busy")
        except PromptTooLong as exc:
            if request.system_prompt:  # the client's own prompt: tell the client
                return Reply(text=str(exc), scope=scope, status="refused")
            log.error("%s", exc)
            return Reply(text=self.settings.worker.error_reply, scope=scope, status="error")
        except Exception:
            log.exception("chat failed for %s", scope or "an anonymous client")
            return Reply(text=self.settings.worker.error_reply, scope=scope, status="error")

    async def _answer(self, scope: str, request: ChatRequest, text: str) -> Reply:
        name = request.display_name or self.settings.persona.user_name
        shared = self.settings.memory.scope == "channel" and bool(request.channel_id)
        earlier: Sequence[PastTurn]
        if request.context is not None:  # the client keeps the conversation
            earlier = [Turn(t.role, t.content) for t in request.context]
            history_cap = None
        else:
            earlier = await self._stored_context(scope)
            history_cap = self.settings.memory.max_history_tokens
        window = Window(
            self.engine.context_window, self.settings.generation.max_new_tokens, history_cap
        )
        for _ in range(PROMPT_SWITCH_ATTEMPTS):
            # The prompt is the live version's; a reload between building it and the
            # batch would pair it with another adapter, so such a reply is made again.
            version = self.engine.adapter_version
            fitted = fit_prompt(
                request.system_prompt or self.reloader.prompt_for(version),
                earlier,
                text,
                self.count_tokens,
                window,
                display_name=name,
                shared_scope=shared,
            )
            generation, retries = await self._generate_in_character(fitted.messages, name)
            if request.system_prompt or generation.adapter_version == version:
                break
            log.info(
                "adapter %s went live during the batch; answering again with its prompt",
                generation.adapter_version or "(none)",
            )
        if scope:
            # Shielded: a timeout landing here must not cancel the write. The exchange
            # was answered; it is stored whole (in the next group commit) even if this
            # caller gives up waiting.
            await asyncio.shield(
                self.memory.append_many(
                    scope,
                    [
                        ("user", request.user_id, request.display_name, fitted.text, ""),
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
            prompt_tokens=fitted.prompt_tokens,
            completion_tokens=self.count_tokens(generation.text),
        )

    async def _stored_context(self, scope: str) -> list[Any]:
        if not scope:
            return []
        return await self.memory.history(scope, self.settings.memory.max_history_messages)

    async def _generate_in_character(
        self, messages: ChatMessages, user_name: str
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

    async def history(self, scope: ScopeRef) -> list[HistoryEntry]:
        stored = await self._stored_context(self._scope_of(scope) if scope.user_id else "")
        return [
            HistoryEntry(role=m.role, content=m.content, display_name=m.display_name)
            for m in stored
        ]

    async def character(self) -> Character:
        return Character(
            name=self.persona.name,
            greeting=self.persona.greeting,
            user_name=self.settings.persona.user_name,
        )

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

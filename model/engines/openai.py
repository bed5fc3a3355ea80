"""Engine "openai": generation on remote OpenAI-compatible servers (vLLM, another worker).

Each row of a batch becomes one `/chat/completions` request, all sent at once: the
server (vLLM's continuous batching) batches them its own way. `[model] openai_base_url`
may list several vLLM replicas: rows are spread over them in turn. A replica that answers
404 for a model it should hold (vLLM restarted) gets the registered adapter versions
loaded again at once and the row once more; one that fails (no answer, a 5xx) leaves the
rotation, is retried every `REPLICA_RETRY_SECONDS`, and rejoins once it holds the live
version again (a version kept for a rollback that it cannot load is dropped). One too
busy for the row (a 429, a 503 saying so) stays in the rotation, and the row is asked of
another serving replica once.

Adapter versions are registered with vLLM's runtime LoRA API (`/load_lora_adapter`,
`/unload_lora_adapter`; vLLM runs with `--enable-lora` and
`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`) on every replica before they go live, each under
its own version name. What a replica's model list says it serves is read in
`vllm_replica.py`; what the served base renders a chat as and where its replies stop, in
`served_template.py`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from atri.config import ConfigError, GenerationSettings, Secrets, Settings
from model.adapters.versions import AdapterError
from model.character.prompt import ChatMessages, opens_think, reply_so_far
from model.engines.base import (
    NO_LIMITS,
    EngineRequestFailed,
    EngineStats,
    EngineUnavailable,
    Generation,
    RowLimits,
    all_rows,
    row_limits,
    without_reasoning,
)
from model.engines.chat_template import (
    TemplateRules,
    check_configured_template,
    conform,
    message_defuser,
    render_chat,
)
from model.engines.served_template import (
    TEMPLATE_PROBE,
    base_reply_stops,
    base_tokenizer,
    check_served_template,
)
from model.engines.special_text import common_defuser, defused
from model.engines.vllm_replica import (
    Replica,
    ReplicaDown,
    base_facts,
    held_loras,
    list_models,
    resolve_model,
)
from model.protocol import clean_str

log = logging.getLogger(__name__)

# The shape a chat is sent in once the server's chat template refused ATRI's (Gemma's
# has no system role, Mistral's wants user and assistant to alternate): the system
# prompt opens the first user message, and messages of one role in a row are joined.
STRICT_TEMPLATE = TemplateRules(system=False, alternating=True)

DEFAULT_CONTEXT_WINDOW = 4096
CONNECT_TIMEOUT_SECONDS = 5.0
# Generation may queue behind other users' on the server; the worker's own request
# timeout still bounds what a user waits.
READ_TIMEOUT_SECONDS = 600.0
# How long a replica that failed stays out of the rotation before it is tried again.
REPLICA_RETRY_SECONDS = 15.0
# A row waiting this long on a replica that answers nothing, while the others answer,
# marks it hung (`_note_stalled`).
STALLED_AFTER_SECONDS = 30.0
# Each replica's smoke test of a new version: a hung one is taken out, not waited for.
SMOKE_TIMEOUT_SECONDS = 120.0
ALREADY_LOADED = "has already been loaded"
# vLLM's words for a LoRA folder it cannot read.
NO_ADAPTER = "No adapter found"
# A prompt over the server's context, in each server's words: vLLM's chat endpoint
# ("maximum context length"), its engine ("The decoder prompt (length N) is longer than
# the maximum model length", V1 "Prompt length of N is longer than ..."), llama.cpp's
# server ("request (N tokens) exceeds the available context size"), SGLang's ("Input
# length (N tokens) exceeds the maximum allowed length").
TOO_LONG = re.compile(
    r"maximum context length|maximum model length|available context size"
    r"|exceed_context_size|input length .*exceeds",
    re.IGNORECASE,
)
# A chat template refusing a chat's shape, in each server's words: vLLM's 400 and
# SGLang's 500 carry jinja's TemplateError ("System role not supported", "Conversation
# roles must alternate user/assistant/..."), llama.cpp's 500 a "Jinja Exception".
TEMPLATE_REFUSAL = re.compile(r"\brole|template|jinja", re.IGNORECASE)
# A server too full for one more request just now, in each server's words: a 429 (a
# gateway's "Rate limit exceeded", "Too Many Requests"), or a 503 saying it is busy or
# overloaded (llama.cpp's server, SGLang); a bare 503 is a server restarting (ReplicaDown).
BUSY = re.compile(r"\bbusy\b|overload|too many requests|rate limit", re.IGNORECASE)
_WIDE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\uac00-\ud7af]")


class RemoteEngineError(EngineRequestFailed):
    """The remote server refused or failed a request; str() says which and why."""

    def __init__(self, message: str, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or message  # the server's own words


class LoraRefused(RemoteEngineError, AdapterError):
    """A replica cannot load an adapter version for a reason an admin fixes on the vLLM
    side (no runtime LoRA API, the folder not there): the reload says so in one sentence,
    and the job tries the version again at each look, so it goes live once vLLM is fixed."""

    retried = True


class NoReplica(RemoteEngineError, EngineUnavailable):
    """Every replica is out of the rotation; str() names why each left."""


class ServerBusy(RemoteEngineError, EngineUnavailable):
    """A passing 429 (a gateway's rate limit in front of vLLM) or a 503 that says the
    server is busy: a chat is asked of another replica once, and a reload refused for it
    is tried again at the job's next look, not held as a broken version."""


class LoraLost(ReplicaDown):
    """A replica answered 404 for a model name it was given: it no longer holds the LoRA
    (vLLM restarted), so the registered versions are loaded on it again."""


def approx_tokens(text: str) -> int:
    """Without the server's tokenizer: a CJK character is about one token, other text
    about four characters per token. Used only for history and context budgets."""
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 4)


@dataclass
class Lora:
    """An adapter version as vLLM knows it: the name to ask for and the folder it read."""

    name: str
    path: str
    # vLLM's own start-up module (--lora-modules): never unloaded, other clients may use it.
    static: bool = False


def same_path(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def error_text(response: httpx.Response) -> str:
    """vLLM's error message ({"message"} or {"error": {"message"}}), else the body on
    one line: a reverse proxy's HTML page (nginx's 502) by its title."""
    try:
        data = response.json()
    except ValueError:
        return body_text(response)
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return folded(str(inner["message"]))
        if data.get("message"):
            return folded(str(data["message"]))
    return body_text(response)


def error_in(data: Any) -> str:
    """The error a 200 carries instead of a completion (vLLM's {"object": "error",
    "message"}, or {"error": {"message"}}), as " (message)"; else ""."""
    if not isinstance(data, dict):
        return ""
    inner = data.get("error")
    message = inner.get("message") if isinstance(inner, dict) else data.get("message")
    return f" ({folded(str(message))})" if message else ""


def folded(text: str) -> str:
    """On one line (llama.cpp's Jinja errors quote the template over several)."""
    return " ".join(text.split())


def body_text(response: httpx.Response) -> str:
    text = response.text
    if "html" in response.headers.get("content-type", "") or text.lstrip()[:1] == "<":
        title = _HTML_TITLE.search(text)
        named = folded(title.group(1))[:200] if title else ""
        return named or f"an HTML page (HTTP {response.status_code})"
    return folded(text[:300])


def too_long(message: str) -> bool:
    return TOO_LONG.search(message) is not None


def template_refusal(message: str) -> bool:
    """Does a server's error say its chat template refused the chat's shape?"""
    return TEMPLATE_REFUSAL.search(message) is not None and not too_long(message)


def busy(status: int, detail: str) -> bool:
    """Does an error answer say the server is only too busy for this request now?"""
    return status == 429 or (status == 503 and BUSY.search(detail) is not None)


def reasoning(message: Any) -> bool:
    """Does a completion's message carry a reasoning parser's output (vLLM's
    `reasoning_content`, `reasoning` from 0.10 on; llama.cpp's and SGLang's too)?"""
    if not isinstance(message, dict):
        return False
    return any(
        isinstance(message.get(key), str) and message[key].strip()
        for key in ("reasoning_content", "reasoning")
    )


def template_opens_think(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template ends its generation prompt inside an open
    `<think>`, told by the probe chat the start-up check renders (a template that
    refuses it: no; chats say so when they come)."""
    try:
        return opens_think(render_chat(tokenizer, TEMPLATE_PROBE, True))
    except Exception:
        return False


# A version refused for the server's setup is not the version's fault (`retried`).
RELOAD_AGAIN = "the reload job tries it again at each look, `/reload` at once"


def refused_load(replica: Replica, lora: Lora, exc: RemoteEngineError) -> RemoteEngineError:
    """What a refused `/load_lora_adapter` means for whoever runs vLLM, in one sentence."""
    if exc.status in (404, 405) and NO_ADAPTER not in str(exc):
        # The route itself is missing: vLLM registers it only with the variable set.
        return LoraRefused(
            f"{replica.url} has no runtime LoRA API (POST /load_lora_adapter answered HTTP "
            f"{exc.status}); start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and "
            f"--enable-lora, then reload ({RELOAD_AGAIN}).",
            exc.status,
        )
    if NO_ADAPTER in str(exc):
        return LoraRefused(
            f"{replica.url} finds no adapter in {lora.path}: vLLM reads the folder itself, "
            "so [model] adapters_dir must be at that same path on the vLLM host (a shared "
            f"volume mounted there), readable by vLLM's user; then reload ({RELOAD_AGAIN}).",
            exc.status,
        )
    return exc


class OpenAIEngine:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        replicas: list[Replica],
        context_window: int,
        base_id: str,
        base_name: str,
    ) -> None:
        self.replicas = replicas
        self.model_name = settings.model.openai_model
        self.base_id = base_id  # what the base model is (vLLM's model path)
        self.base_name = base_name  # the name to ask for it by
        self.config_hash = f"openai:{base_id}"
        # As configured, not resolved: vLLM on another host sees the shared folder at
        # this path, which need not be where a symlink leads on this one.
        self.adapters_dir = settings.path(settings.model.adapters_dir)
        self.context_window = context_window
        self.stats = EngineStats()
        self.live_lora = ""  # the live adapter version ("" = the base model)
        self.loras: dict[str, Lora] = {}  # registered adapter versions
        self._turn = 0
        self._revivals: dict[str, asyncio.Task[bool]] = {}
        # Learnt from the server: its template refused a chat that STRICT_TEMPLATE's
        # shape got through (the template is not visible from here).
        self.strict_template = False
        # (marker, token id) every chat stops on besides the server's own end tokens:
        # GLM-4's next <|user|> and the tokens that open a person's turn (ChatML's
        # <|im_start|>), read from the base's local tokenizer (served_template.py).
        self.reply_stops: list[tuple[str, int]] = []
        # Special tokens' text in a message is defused before it is sent (special_text),
        # as the server renders and tokenizes a chat with special tokens parsed: the
        # base's own tokens where its tokenizer is on this machine, else the usual
        # templates' turn markers.
        self.defuse = common_defuser()
        # The base's tokenizer where it is on this machine (the one vLLM tokenizes with):
        # history budgets count with it; else they are estimated (approx_tokens).
        self.tokenizer: Any = None
        # Whether that tokenizer's template ends the generation prompt inside an open
        # `<think>` (prompt.opens_think), as the server renders it where it serves that
        # template (check_served_template): a reply with no `</think>` and no reasoning
        # parser's output is then reasoning alone.
        self.opens_think = False

    @classmethod
    async def open(cls, settings: Settings, secrets: Secrets | None = None) -> OpenAIEngine:
        """Connect and read every replica's models; an unreachable server is a config
        problem reported in one sentence. Registers `[model] adapter` if set."""
        check_configured_template(settings.model.chat_template, settings.config_file)
        secrets = secrets or Secrets.from_env()
        headers = {}
        if secrets.openai_api_key is not None:
            headers["Authorization"] = f"Bearer {secrets.openai_api_key.get_secret_value()}"
        timeout = httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        # No cap on connections: every row in flight is one request, and vLLM queues
        # what it cannot run yet itself (httpx's default 100 would hold the rest here).
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        replicas = [
            Replica(
                url,
                httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits),
            )
            for url in settings.model.openai_base_urls
        ]
        listed = await asyncio.gather(*(list_models(r) for r in replicas), return_exceptions=True)
        reachable = [
            (r, cards) for r, cards in zip(replicas, listed, strict=True) if isinstance(cards, list)
        ]
        try:
            if not reachable:
                first = next(x for x in listed if isinstance(x, BaseException))
                raise ConfigError(
                    f"Cannot reach the OpenAI-compatible server at "
                    f"{' or '.join(r.url for r in replicas)} ({first}); start it or fix "
                    "[model] openai_base_url (and ATRI_OPENAI_API_KEY if it needs one)."
                )
            model = settings.model.openai_model
            first_replica, cards = reachable[0]
            base, lora = resolve_model(cards, model, first_replica.url)
            base_id = str(base.get("root") or base["id"])
            for replica, other in reachable[1:]:
                other_root, _ = base_facts(other, model, replica.url)
                if other_root != base_id:
                    raise ConfigError(
                        f"The replicas serve different base models ({base_id!r} at "
                        f"{first_replica.url}, {other_root!r} at {replica.url}); "
                        "run the same model on every replica in [model] openai_base_url."
                    )
        except BaseException:
            await asyncio.gather(*(r.client.aclose() for r in replicas))
            raise
        lengths = {
            replica.url: base_facts(cards, model, replica.url)[1] for replica, cards in reachable
        }
        served = [n for n in lengths.values() if n]
        window = settings.model.context_window or (
            min(served) if served else DEFAULT_CONTEXT_WINDOW
        )
        if len(set(served)) > 1 and not settings.model.context_window:
            # Fitted to the first one's, every long chat sent to a shorter one failed.
            log.warning(
                "the replicas serve different windows (%s); prompts are fitted to the "
                "shortest, %d tokens: give every replica the same --max-model-len",
                ", ".join(f"{n} at {url}" for url, n in lengths.items()),
                window,
            )
        engine = cls(settings, replicas, window, base_id, str(base["id"]))
        tokenizer = await asyncio.to_thread(base_tokenizer, settings, base_id)
        if tokenizer is not None:
            engine.tokenizer = tokenizer
            engine.reply_stops = base_reply_stops(settings, tokenizer)
            engine.defuse = message_defuser(tokenizer)
            engine.opens_think = template_opens_think(tokenizer)
        for replica, result in zip(replicas, listed, strict=True):
            if isinstance(result, list):
                replica.held = held_loras(result)
            else:
                engine._take_out(replica, str(result))
        if lora is not None:
            path = str(lora.get("root") or "")
            version = Path(path).name or model
            engine.loras[version] = Lora(model, path, static=True)
            engine.live_lora = version
        if tokenizer is not None:
            await check_served_template(engine._serving(), engine.base_name, settings, tokenizer)
        if settings.model.adapter:
            await engine._start_with(settings.path(settings.model.adapter))
        log.info(
            "openai engine: %d replica(s), base %r (asked for as %r), window %d, serving %s",
            len(replicas),
            base_id,
            engine.base_name,
            window,
            f"adapter version {engine.live_lora} as {engine.loras[engine.live_lora].name!r}"
            if engine.live_lora
            else "the base model",
        )
        return engine

    async def _start_with(self, path: Path) -> None:
        """`[model] adapter`: register it on every replica and serve it from the start."""
        try:
            await self.load_adapter(path, path.name)
            await self.activate(path.name)
        except RemoteEngineError as exc:
            await self.close()
            if isinstance(exc, LoraRefused):
                raise ConfigError(
                    f"The server could not load [model] adapter {path}: {exc}"
                ) from None
            raise ConfigError(
                f"The server could not load [model] adapter {path} ({exc}); the folder must "
                "exist at the same path on the vLLM host."
            ) from None

    @property
    def adapter_version(self) -> str:
        return self.live_lora

    @property
    def chat_template(self) -> Any:
        """The base's template, where its tokenizer is on this machine: the one the server
        serves (`check_served_template` says where not); else none known."""
        return getattr(self.tokenizer, "chat_template", "")

    def count_tokens(self, text: str) -> int:
        """Tokens of a message's text as the server tokenizes it (defused): counted by
        the base's tokenizer where it is here, else estimated."""
        safe = self.defuse(text)
        if self.tokenizer is None:
            return approx_tokens(safe)
        return len(self.tokenizer.encode(safe, add_special_tokens=False))

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        return await all_rows(self.generate_rows(batch, gen, limits))

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        """One request to the server per row, sent now: vLLM batches continuously, so a
        row held back until the rows before it end would only be answered later."""
        self._revive_due()
        version = self.live_lora
        model = self.loras[version].name if version else self.base_name
        each = row_limits(limits, len(batch))
        self.stats.generate_calls += 1
        self.stats.batch_sizes.append(len(batch))
        return [
            asyncio.ensure_future(self._counted(self._one(m, gen, model, version, limit)))
            for m, limit in zip(batch, each, strict=True)
        ]

    async def _counted(self, reply: Awaitable[Generation]) -> Generation:
        result = await reply
        self.stats.generated_rows += 1
        self.stats.generated_tokens += result.new_tokens
        return result

    def _body(
        self,
        messages: ChatMessages,
        gen: GenerationSettings,
        model: str,
        limits: RowLimits = NO_LIMITS,
    ) -> dict[str, Any]:
        """One row's request: its own cap and stop strings (`limits`) beside the
        engine's reply stops; the sampling is the batch's."""
        stop = [marker for marker, _ in self.reply_stops]
        stop += [s for s in limits.stop if s not in stop]
        # Her unfinished reply ends the chat (a Continue): vLLM renders it after the
        # generation prompt and goes on from it (transformers' `continue_final_message`).
        so_far = {"continue_final_message": True, "add_generation_prompt": False}
        return {
            **(so_far if reply_so_far(messages) else {}),
            "model": model,
            "messages": messages,
            "max_tokens": limits.cap(gen.max_new_tokens),
            "temperature": gen.temperature if gen.do_sample else 0.0,
            "top_p": gen.top_p if gen.do_sample else 1.0,
            # vLLM's sampling extensions; OpenAI-compatible servers ignore what they lack.
            "top_k": gen.top_k if gen.do_sample and gen.top_k > 0 else -1,
            "repetition_penalty": gen.repetition_penalty,
            # vLLM matches `stop` on the text, which by default holds no special tokens,
            # so the token id stops it; `stop` serves servers that keep them in the text.
            **({"stop_token_ids": [i for _, i in self.reply_stops]} if self.reply_stops else {}),
            **({"stop": stop} if stop else {}),
        }

    async def _one(
        self,
        messages: ChatMessages,
        gen: GenerationSettings,
        model: str,
        version: str,
        limits: RowLimits = NO_LIMITS,
    ) -> Generation:
        """One row on the next replica in turn; on a replica failure, on another one. A
        replica that lost the model asked for (vLLM restarted) gets every registered
        version again and the row once more, so one replica alone recovers at once. A
        busy replica's refusal (ServerBusy) is asked of another serving one, once."""
        tried: set[str] = set()
        reloaded: set[str] = set()
        asked_elsewhere = False
        while (replica := self._pick(tried)) is not None:
            tried.add(replica.url)
            asked_at = time.monotonic()
            try:
                data = await self._complete_chat(replica, messages, gen, model, limits)
            except asyncio.CancelledError:
                self._note_stalled(replica, asked_at)
                raise
            except ServerBusy as exc:
                # The busy replica stays in the rotation: it is well, only full now. The
                # retry runs in this row's task, so the request's deadline still ends it.
                if asked_elsewhere or not self._serving_untried(tried):
                    raise
                asked_elsewhere = True
                log.info(
                    "%s is busy (%s); the reply is asked of another replica",
                    replica.url,
                    exc.detail,
                )
                continue
            except LoraLost as exc:
                self._take_out(replica, str(exc))
                if replica.url not in reloaded:
                    reloaded.add(replica.url)
                    if await self._revival(replica):
                        tried.discard(replica.url)
                continue
            except ReplicaDown as exc:
                self._take_out(replica, str(exc))
                continue
            replica.answered_at = time.monotonic()
            if replica.down_since is not None:
                # Out of the rotation, tried as the last resort, and it answered: back
                # in now (with every version), not after a quiet spell users never give.
                await self._revival(replica)
            return self._generation(replica, data, version)
        raise NoReplica(f"No replica can serve {model!r}: {self._down_reasons()}")

    async def _complete_chat(
        self,
        replica: Replica,
        messages: ChatMessages,
        gen: GenerationSettings,
        model: str,
        limits: RowLimits = NO_LIMITS,
    ) -> Any:
        """A completion of `messages`. A chat the server's template refuses (vLLM's 400,
        llama.cpp's and SGLang's 500, naming the template) is tried once more in
        STRICT_TEMPLATE's shape; if that passes, every later chat is
        sent so (said once in the log)."""
        messages = defused(messages, self.defuse)
        # Read once: rows run concurrently, and one sent in the plain shape may be refused
        # after another has already switched to the strict one; it is tried again too.
        strict = self.strict_template
        shaped = conform(messages, STRICT_TEMPLATE) if strict else messages
        try:
            return await self._complete(replica, self._body(shaped, gen, model, limits))
        except RemoteEngineError as exc:
            reshaped = conform(messages, STRICT_TEMPLATE)
            # Only a refusal that names the template: a prompt over the server's
            # context, a few template tokens shorter in the strict shape, may pass so,
            # and would take every later chat's system role for nothing.
            if strict or reshaped == messages or not template_refusal(exc.detail):
                raise
            try:
                data = await self._complete(replica, self._body(reshaped, gen, model, limits))
            except RemoteEngineError:
                raise exc from None
            if self.strict_template:
                return data
            self.strict_template = True
            log.warning(
                "%s refused a chat with a system prompt or two messages of one role in a "
                "row (%s); from now on the system prompt opens the first user message and "
                "such messages are joined",
                replica.url,
                exc,
            )
            return data

    async def _complete(self, replica: Replica, body: dict[str, Any]) -> Any:
        try:
            return await self._post(replica, "/chat/completions", body)
        except RemoteEngineError as exc:
            # The name was registered, so a 404 means this replica lost it (vLLM restarted).
            if exc.status == 404:
                raise LoraLost(str(exc)) from None
            if 400 <= exc.status < 500 and too_long(exc.detail):
                counted = "its tokenizer" if self.tokenizer is not None else "an estimate"
                raise RemoteEngineError(
                    f"{exc} (the worker fits prompts to {self.context_window} tokens counted "
                    f"by {counted}; lower [model] context_window to leave a margin)",
                    exc.status,
                    exc.detail,
                ) from None
            raise

    def _generation(self, replica: Replica, data: Any, version: str) -> Generation:
        if isinstance(data, str):  # a proxy's page, a body cut short
            raise RemoteEngineError(
                f"{replica.url}: a completion that is not JSON "
                f"({' '.join(data[:120].split()) or 'an empty body'})."
            )
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RemoteEngineError(
                f"{replica.url}: a completion without a message{error_in(data)}."
            ) from None
        if not isinstance(content, str):
            raise RemoteEngineError(f"{replica.url}: a completion whose message is not text.")
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        if finish == "abort":  # vLLM aborted the request (its engine failed meanwhile)
            raise RemoteEngineError(f"{replica.url}: the server aborted the reply.")
        cut = finish == "length"
        if cut and not content.strip() and reasoning(choice["message"]):
            # Regenerating with the same budget would only spend it reasoning again.
            raise RemoteEngineError(
                f"{replica.url}: the model spent the whole reply budget reasoning and wrote "
                "no reply; raise [generation] max_new_tokens, or turn its thinking off on "
                "the server (Qwen3 on vLLM: --default-chat-template-kwargs "
                "'{\"enable_thinking\": false}')"
            )
        # JSON can carry a lone surrogate, which no reply, log line or database can encode.
        text = clean_str(content)
        usage = data.get("usage") or {}
        tokens = int(usage.get("completion_tokens") or approx_tokens(text))
        generation = Generation(
            text=text,
            new_tokens=tokens,
            adapter_version=version,
            finish_reason="length" if cut else "stop",
        )
        if self.opens_think and not reasoning(choice["message"]):
            # No reasoning parser split it: the reply opened inside the prompt's <think>.
            return without_reasoning(generation, replica.url)
        return generation

    def _note_stalled(self, replica: Replica, asked_at: float) -> None:
        """A row given up (its deadline) while `replica` had answered nothing since it was
        asked, `STALLED_AFTER_SECONDS` or more ago, and another replica had: it hangs, and
        is taken out. A hung replica never failed (its read timeout is 600 s, the worker's
        deadline 120), so it kept half the users' chats until their deadlines, and took
        the batch's places from the replicas that answered."""
        now = time.monotonic()
        if now - asked_at < STALLED_AFTER_SECONDS or replica.answered_at >= asked_at:
            return
        if any(r is not replica and r.answered_at >= asked_at for r in self.replicas):
            self._take_out(
                replica, f"{replica.url}: no answer in {now - asked_at:.0f} s while others answered"
            )

    def _pick(self, tried: set[str]) -> Replica | None:
        """The next serving replica in turn; with none serving, one that is out (better a
        slow try than a refusal while its retry is due)."""
        untried = [r for r in self.replicas if r.url not in tried]
        candidates = [r for r in untried if r.down_since is None] or untried
        if not candidates:
            return None
        self._turn += 1
        return candidates[self._turn % len(candidates)]

    def _serving(self) -> list[Replica]:
        return [r for r in self.replicas if r.down_since is None]

    def _serving_untried(self, tried: set[str]) -> bool:
        """Is a serving replica left that a row has not tried (what `_pick` takes next)?"""
        return any(r.url not in tried for r in self._serving())

    async def _serving_now(self) -> list[Replica]:
        """The serving replicas; with none, each one out is retried first: a reload with
        no chats going on (at night) has no row to bring a restarted vLLM back."""
        if not self._serving():
            await asyncio.gather(*(self._revival(r) for r in self.replicas))
        return self._serving()

    def _take_out(self, replica: Replica, reason: str) -> None:
        """Out of the rotation, retried `REPLICA_RETRY_SECONDS` on. A row that tries it
        as the last resort and fails does not put its retry off (else steady traffic
        would keep it out for good); only a failed retry does (`revive`)."""
        if replica.down_since is None:
            log.warning("replica %s leaves the rotation: %s", replica.url, reason)
            replica.down_since = time.monotonic()
        replica.reason = reason

    def _down_reasons(self) -> str:
        return "; ".join(r.reason for r in self.replicas if r.down_since is not None) or "none"

    def _revive_due(self) -> None:
        """Retry replicas that have been out for `REPLICA_RETRY_SECONDS`, in the background."""
        now = time.monotonic()
        for replica in self.replicas:
            if (
                replica.down_since is not None
                and now - replica.down_since >= REPLICA_RETRY_SECONDS
                and replica.url not in self._revivals
            ):
                self._revival_task(replica)

    def _revival_task(self, replica: Replica) -> asyncio.Task[bool]:
        """The retry of `replica` under way, or a new one: rows that find it lost share it."""
        task = self._revivals.get(replica.url)
        if task is None:
            task = asyncio.create_task(self.revive(replica))
            self._revivals[replica.url] = task
            task.add_done_callback(self._revived)
        return task

    async def _revival(self, replica: Replica) -> bool:
        """Wait for `replica`'s retry; a row cancelled meanwhile (its deadline) leaves it
        running for the others."""
        return await asyncio.shield(self._revival_task(replica))

    def _revived(self, task: asyncio.Task[bool]) -> None:
        for url, known in list(self._revivals.items()):
            if known is task:
                del self._revivals[url]

    async def revive(self, replica: Replica) -> bool:
        """Bring a replica back once it answers and holds the live version. A version kept
        for a rollback that it cannot load again (its folder deleted by hand) is said once
        and dropped from every replica: it must not keep the live one out of service."""
        try:
            cards = await list_models(replica)
            self._check_same_model(replica, cards)
            replica.held = held_loras(cards)
            live = self.loras.get(self.live_lora)
            if live is not None:
                await self._register(replica, live)
            for name, lora in list(self.loras.items()):
                if lora is live:
                    continue
                try:
                    await self._register(replica, lora)
                except ReplicaDown:
                    raise
                except RemoteEngineError as exc:
                    if name == self.live_lora:  # went live meanwhile
                        raise
                    await self._drop_kept(name, replica, exc)
        except (ReplicaDown, RemoteEngineError) as exc:
            self._take_out(replica, str(exc))
            replica.down_since = time.monotonic()  # the next retry in REPLICA_RETRY_SECONDS
            return False
        replica.down_since = None
        replica.reason = ""
        # As loud as its leaving: whoever read that it left reads that it is back.
        log.warning("replica %s is back in the rotation", replica.url)
        return True

    def _check_same_model(self, replica: Replica, cards: list[dict[str, Any]]) -> None:
        """ReplicaDown for a replica back with another base model, or a window shorter
        than the one prompts are fitted to: it rejoined unchecked, and answered users as
        another model (or refused every long chat)."""
        try:
            root, length = base_facts(cards, self.base_name, replica.url)
        except ConfigError as exc:
            raise ReplicaDown(str(exc)) from None
        if root != self.base_id:
            raise ReplicaDown(
                f"{replica.url} serves another base model ({root!r}, not {self.base_id!r}); "
                "run the same model on every replica in [model] openai_base_url"
            )
        if length and length < self.context_window:
            raise ReplicaDown(
                f"{replica.url} serves a window of {length} tokens, shorter than the "
                f"{self.context_window} prompts are fitted to; give every replica the same "
                "--max-model-len"
            )

    async def _drop_kept(self, name: str, replica: Replica, exc: RemoteEngineError) -> None:
        """Forget kept version `name`, which `replica` could not load again, on every
        replica: a version some replicas serve and others lack could not go live again."""
        lora = self.loras.pop(name, None)
        if lora is None:
            return  # another replica's revival dropped it first
        log.warning(
            "adapter version %s, kept for a rollback, is dropped: %s came back without it "
            "and cannot load it again (%s)",
            name,
            replica.url,
            exc,
        )
        if lora.static:
            return  # vLLM's own start-up LoRA: other clients may use it
        try:
            await self._unload_everywhere(lora)
        except RemoteEngineError as unload:  # it only holds a LoRA slot there
            log.warning("cannot unload adapter version %s: %s", name, unload)

    async def _post(self, replica: Replica, path: str, body: dict[str, Any]) -> Any:
        try:
            response = await replica.client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ReplicaDown(f"{replica.url}{path}: {type(exc).__name__} {exc}") from None
        if response.status_code >= 400:
            detail = error_text(response)
            message = f"{replica.url}{path} answered HTTP {response.status_code}: {detail}"
            if busy(response.status_code, detail):
                raise ServerBusy(message, response.status_code, detail)
            # llama.cpp's and SGLang's chat templates refuse a chat with a 500: the replica
            # is well, and the chat may pass in the strict shape (_complete_chat).
            if response.status_code >= 500 and not template_refusal(detail):
                raise ReplicaDown(message)
            if response.status_code in (401, 403):
                # This replica's key (restarted with another --api-key): the others may
                # still take the chats, as from one down.
                raise ReplicaDown(message)
            raise RemoteEngineError(message, response.status_code, detail)
        try:
            return response.json()
        except ValueError:
            return response.text  # vLLM answers the LoRA routes in plain text

    async def _register(self, replica: Replica, lora: Lora) -> None:
        """Make `replica` hold `lora`; holding it already under that name counts."""
        held = replica.held.get(lora.name)
        if held is None:
            try:
                await self._post(
                    replica, "/load_lora_adapter", {"lora_name": lora.name, "lora_path": lora.path}
                )
                held = lora.path
            except RemoteEngineError as exc:
                if ALREADY_LOADED not in str(exc):
                    raise refused_load(replica, lora, exc) from None
                # Loaded since we last looked (another worker, or one before a restart).
                replica.held = held_loras(await list_models(replica))
                held = replica.held.get(lora.name, "")
        if not same_path(held, lora.path):
            raise RemoteEngineError(
                f"{replica.url} already holds a LoRA named {lora.name!r} from {held!r}, not "
                f"{lora.path!r}; unload it there or point [model] adapters_dir at {held!r}'s "
                "folder."
            )
        replica.held[lora.name] = lora.path

    async def load_adapter(self, path: Path | str, name: str) -> None:
        """Register an adapter version on every serving replica before it can go live.
        `path` must exist on the vLLM hosts (share the adapters folder at the same path)."""
        sent = self._as_configured(Path(path))
        known = self.loras.get(name)
        lora = known if known and same_path(known.path, sent) else Lora(name, sent)
        serving = await self._serving_now()
        results = await asyncio.gather(
            *(self._register(r, lora) for r in serving), return_exceptions=True
        )
        registered = 0
        for replica, result in zip(serving, results, strict=True):
            if isinstance(result, ReplicaDown):
                self._take_out(replica, str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                registered += 1
        if not registered:
            raise NoReplica(f"No replica could load LoRA {name!r}: {self._down_reasons()}")
        self.loras[name] = lora

    def _as_configured(self, path: Path) -> str:
        """`path` under `[model] adapters_dir` as written in config.toml: the reload job
        hands over the folder with symlinks resolved, which only this machine may see
        (adapters_dir a link to where the share is mounted here)."""
        try:
            inside = path.relative_to(self.adapters_dir.resolve())
        except (ValueError, OSError):
            return str(path)
        return str(self.adapters_dir / inside)

    def holds(self, name: str) -> bool:
        """Is version `name` registered (a kept one can be dropped: `revive`)?"""
        return name in self.loras

    def accepts_config_hash(self, value: str) -> bool:
        """The remote base's config is not visible from here; vLLM itself refuses an
        adapter that does not fit its base when it loads it, and the reload keeps the
        live version then."""
        return True

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """One short greedy reply from version `name` on every serving replica; an empty
        reply from any of them is returned as the answer."""
        if name not in self.loras:
            raise RemoteEngineError(f"LoRA adapter {name!r} is not loaded.")
        gen = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=False)
        texts: list[str] = []
        for replica in await self._serving_now():
            try:
                data = await asyncio.wait_for(
                    self._complete_chat(replica, messages, gen, self.loras[name].name),
                    SMOKE_TIMEOUT_SECONDS,
                )
            except ReplicaDown as exc:
                self._take_out(replica, str(exc))
                continue
            except TimeoutError:
                self._take_out(
                    replica, f"{replica.url}: no smoke reply in {SMOKE_TIMEOUT_SECONDS:.0f} s"
                )
                continue
            texts.append(self._generation(replica, data, name).text)
        if not texts:
            raise NoReplica(f"No replica answered the smoke test: {self._down_reasons()}")
        return min(texts, key=lambda t: bool(t.strip()))

    async def activate(self, name: str) -> None:
        """Ask for `name` from the next batch on ("" = the base model)."""
        if name and name not in self.loras:
            raise RemoteEngineError(f"LoRA adapter {name!r} is not loaded.")
        self.live_lora = name

    async def unload_adapter(self, name: str) -> None:
        """Drop a registered version from every replica; the live one is never dropped,
        nor vLLM's own start-up LoRA."""
        lora = self.loras.get(name)
        if not name or name == self.live_lora or lora is None or lora.static:
            return
        del self.loras[name]
        await self._unload_everywhere(lora)

    async def _unload_everywhere(self, lora: Lora) -> None:
        for replica in self._serving():
            try:
                await self._post(replica, "/unload_lora_adapter", {"lora_name": lora.name})
            except ReplicaDown as exc:
                self._take_out(replica, str(exc))
            except RemoteEngineError as exc:
                if exc.status != 404:
                    raise
            replica.held.pop(lora.name, None)

    async def unload_leftovers(self, adapters_dir: Path) -> list[str]:
        """Unload what an earlier run of this worker registered and this one does not
        use: LoRAs named as adapter versions and read from that version's folder in
        `adapters_dir`. vLLM keeps them across a worker restart, each holding a LoRA
        slot and memory; any other LoRA (vLLM's --lora-modules, another client's) stays."""
        from model.adapters.versions import is_version_name

        gone: set[str] = set()
        for replica in self._serving():
            leftovers = [
                name
                for name, path in replica.held.items()
                if name not in self.loras
                and is_version_name(name)
                and same_path(path, str(adapters_dir / name))
            ]
            for name in leftovers:
                try:
                    await self._post(replica, "/unload_lora_adapter", {"lora_name": name})
                except ReplicaDown as exc:
                    self._take_out(replica, str(exc))
                    break
                except RemoteEngineError as exc:
                    if exc.status != 404:
                        log.warning(
                            "%s: cannot unload leftover LoRA %s: %s", replica.url, name, exc
                        )
                        continue
                replica.held.pop(name, None)
                gone.add(name)
        if gone:
            log.info("unloaded adapter versions an earlier run left on vLLM: %s", sorted(gone))
        return sorted(gone)

    async def close(self) -> None:
        for task in list(self._revivals.values()):
            task.cancel()
        await asyncio.gather(*self._revivals.values(), return_exceptions=True)
        await asyncio.gather(*(r.client.aclose() for r in self.replicas))

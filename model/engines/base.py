"""What every engine is: the `Engine` protocol and the data it returns.

An engine turns a batch of chat conversations into replies. The service never knows
which one answers: `local` (transformers + peft), `openai` (a remote vLLM), or `echo`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from atri.config import GenerationSettings, Settings
from model.character.prompt import (
    THINK_END,
    THINK_START,
    ChatMessages,
    after_open_think,
    reply_after_open_think,
)

log = logging.getLogger(__name__)

RECENT_BATCHES = 1000


FinishReason = Literal["stop", "length"]


class EngineRequestFailed(Exception):
    """A backend refused or failed one request (a remote server's 4xx, no replica left);
    str() is one sentence for the log, and the user gets her error line."""


class EngineUnavailable(EngineRequestFailed):
    """No backend answered (every vLLM replica down or restarting): a passing state, so
    a reload refused for it is tried again at the job's next look."""


@dataclass
class Generation:
    text: str
    new_tokens: int
    adapter_version: str = ""
    # "length": the reply ran into its token limit; "stop": it ended (an end-of-turn
    # token, or one of its row's stop strings).
    finish_reason: FinishReason = "stop"


def without_reasoning(generation: Generation, where: str) -> Generation:
    """`generation`, made after a prompt that ended inside an open `<think>`
    (prompt.opens_think, known to the engines that render the prompt), as its reply
    alone. One that is all reasoning becomes empty: the service regenerates it as any
    empty reply, then answers "……"; the log says why (`where`: the engine)."""
    reply = reply_after_open_think(generation.text)
    if reply is not None:
        return replace(generation, text=reply)
    if generation.finish_reason == "length":
        log.warning(
            "%s: the model spent the whole reply budget (%d tokens) reasoning and wrote no "
            "reply (no </think>); it counts as empty. Raise [generation] max_new_tokens, or "
            "give a chat template that does not open <think> as [model] chat_template",
            where,
            generation.new_tokens,
        )
    else:
        log.warning(
            "%s: the model ended its reply still reasoning (no </think>) and wrote no reply; "
            "it counts as empty",
            where,
        )
    return replace(generation, text="")


_THINK_BLOCK = re.compile(f"{re.escape(THINK_START)}.*?(?:{re.escape(THINK_END)}|$)", re.DOTALL)


def reasoning_removed(text: str) -> str:
    """`text` without the reasoning a served reply loses (prompt.clean_reply): what
    precedes a `</think>` with no `<think>` before it, and every `<think>` block (one
    left open runs to the end). The reload job's smoke test judges a reply by it."""
    return _THINK_BLOCK.sub("", after_open_think(text))


@dataclass(frozen=True)
class RowLimits:
    """What one request of a batch asks beyond the batch's settings (the OpenAI API's
    `max_tokens` and `stop`): at most `max_new_tokens` new tokens (0: the settings'
    own; the smaller applies), and an end before the first of the `stop` strings."""

    max_new_tokens: int = 0
    stop: tuple[str, ...] = ()
    # Two hooks for an engine whose batch ends its rows apart (`EndsRowsApart`), neither
    # a limit of its own (equality leaves them out). `given_up`: True once the row's
    # caller gave up (its deadline passed, its /v1 client left): the row ends at the
    # next step instead of decoding a reply nobody reads. `deliver`: called, from the
    # engine's thread, with the row's reply the step the row ends, so its caller need
    # not wait for the batch's longest row (the reply `generate` returns is the same).
    given_up: Callable[[], bool] | None = field(default=None, compare=False)
    deliver: Callable[[Generation], None] | None = field(default=None, compare=False)

    def cap(self, gen_max: int) -> int:
        return min(gen_max, self.max_new_tokens) if self.max_new_tokens > 0 else gen_max

    def stop_at(self, text: str) -> int:
        """Where the first stop string starts in `text`; -1 for none."""
        found = [i for i in (text.find(s) for s in self.stop if s) if i >= 0]
        return min(found) if found else -1

    def tail_tokens(self) -> int:
        """New tokens enough to hold any stop string that the latest token completed
        (a character may take up to 4 byte tokens): checking only these each step keeps
        a long reply's check from decoding all of it again. The reply is still cut at
        its first stop string as a whole once it ends (`cut`)."""
        return 4 * max((len(s) for s in self.stop), default=0) + 4

    def abandoned(self) -> bool:
        return self.given_up is not None and self.given_up()

    def cut(self, text: str) -> tuple[str, bool]:
        """`text` up to its first stop string, and whether one was there."""
        at = self.stop_at(text)
        return (text, False) if at < 0 else (text[:at], True)


NO_LIMITS = RowLimits()


def row_limits(limits: Sequence[RowLimits] | None, rows: int) -> list[RowLimits]:
    """Each row's limits (none given: NO_LIMITS for every row)."""
    if limits is None:
        return [NO_LIMITS] * rows
    if len(limits) != rows:
        raise ValueError(f"{len(limits)} row limits for a batch of {rows}")
    return list(limits)


@dataclass
class EngineStats:
    generate_calls: int = 0
    generated_rows: int = 0
    generated_tokens: int = 0
    # Prompt tokens fed in, and how many of them came from the prefix cache instead.
    prompt_tokens: int = 0
    prefix_reused_tokens: int = 0
    # The most recent batch sizes only: a worker runs for weeks, a list would grow forever.
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    # Rows that joined a decode loop already running (engines that batch continuously).
    joined_rows: int = 0
    # llama.cpp: times the KV cells of rows that left were freed while others still
    # decoded, because a request would not have fit beside them (model/engines/llamacpp.py).
    early_unparks: int = 0


class Engine(Protocol):
    name: str
    base_id: str
    config_hash: str
    context_window: int
    stats: EngineStats

    @property
    def adapter_version(self) -> str: ...

    def count_tokens(self, text: str) -> int: ...

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        """One reply per conversation; `limits`, one per row, cap and stop rows apart
        (rows of one batch may differ)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class JoinsRunningBatch(Protocol):
    """An engine whose rows join the batch it is already generating and end one by one
    (llama.cpp's decode loop, vLLM's continuous batching): the batcher hands it requests
    as they come and answers each caller at its own row's end (model/batching.py)."""

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        """Start every row of `batch` now, together, and give one future per row, done at
        that row's own end; cancelling a row's future gives the row up. Raises at once
        when nothing can start (the engine is closed)."""
        ...


@runtime_checkable
class EndsRowsApart(Protocol):
    """An engine whose `generate` (one call for the whole batch) ends each row apart: at
    the next step once `RowLimits.given_up` says its caller left, and handing its reply to
    `RowLimits.deliver` the step it ends. The batcher then passes every batch's limits,
    with both hooks set. (A joining engine answers through its row futures instead.)"""

    ends_rows_apart: bool


def chat_template_of(engine: object) -> str:
    """The text of the chat template the engine's model renders chats with (its
    `chat_template`: the tokenizer's, the GGUF's); "" where none is known (the echo
    engine, the openai one without the base's tokenizer here, a tokenizer holding no
    template or several by name)."""
    template = getattr(engine, "chat_template", "")
    return template if isinstance(template, str) else ""


async def all_rows(rows: list[asyncio.Future[Generation]]) -> list[Generation]:
    """`generate` of an engine that has `generate_rows`: every row's reply, in order."""
    return list(await asyncio.gather(*rows))


class AdapterLoader(Protocol):
    """What `start_with_adapter` needs of an engine (the local and llama.cpp ones)."""

    base_id: str
    config_hash: str

    def accepts_config_hash(self, value: str) -> bool: ...

    async def load_adapter(self, path: Path, name: str) -> None: ...

    async def activate(self, name: str) -> None: ...

    async def close(self) -> None: ...


async def start_with_adapter(settings: Settings, engine: AdapterLoader) -> None:
    """Serve `[model] adapter` from the start, checked against the loaded base as the
    reload job checks a version: a version trained on another base, or of another model
    size, is one sentence naming the key (the engine closed), not replies from a base it
    does not fit."""
    from model.adapters.validation import adapter_setting_error, check_trained_on
    from model.adapters.versions import AdapterError

    path = settings.path(settings.model.adapter)
    try:
        check_trained_on(path, engine)
        await engine.load_adapter(path, path.name)
    except AdapterError as exc:
        await engine.close()
        raise adapter_setting_error(
            settings, exc, 'point it at an adapter trained on [model] base, or set it to ""'
        ) from None
    await engine.activate(path.name)


@dataclass
class StepJob:
    """Work for an engine thread that may run between two decoding steps, leaving the
    rows in flight alone (loading an adapter, warming its prefix states, a smoke reply):
    `LlamaCppEngine._between_steps`, `StepLoop.between_steps`."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    done: Future[Any] = field(default_factory=Future)

    def run(self, ran: Callable[[], None] | None = None) -> None:
        """Run it and tell its caller; `ran`, if given, is called in between: what the
        caller does next may already count on it (`StepLoop.jobs_run`)."""
        if not self.done.set_running_or_notify_cancel():
            return  # its caller gave up
        try:
            value = self.fn(*self.args)
        except BaseException as exc:
            if ran is not None:
                ran()
            self.done.set_exception(exc)
        else:
            if ran is not None:
                ran()
            self.done.set_result(value)


class ThreadLoop:
    """An engine thread's serving loop, started when work is given and it is not
    running (the local step loop, the local engine's gathered generate() rows, the
    llama.cpp passes). `lock` guards the loop's queues and these flags; the loop clears
    `serving`, under it, as it ends."""

    def __init__(self, thread: EngineThread, loop: Callable[[], None], engine: str) -> None:
        self.lock = threading.Lock()
        self.thread = thread
        self.loop = loop
        self.engine = engine  # for the sentence once closed: "the local engine"
        self.serving = False  # queued on the thread or running
        self.closed = False

    def give(self, add: Callable[[], None], take_back: Callable[[], None]) -> None:
        """`add` queues work, under the lock, and the loop is started unless it is
        serving; `take_back` undoes `add` when the thread is closed and nothing would
        ever run it (the caller gets the RuntimeError)."""
        with self.lock:
            if self.closed:
                raise RuntimeError(f"{self.engine} is closed")
            add()
            start, self.serving = not self.serving, True
        if start:
            try:
                self.thread.submit(self.loop)
            except RuntimeError:
                with self.lock:
                    take_back()
                    self.serving = False
                raise


class EngineThread:
    """The one thread that owns a model on this machine (the local and llama.cpp engines).

    Jobs run there one after another in the order they were given, so the event loop
    never waits on the model and a batch never interleaves with an adapter change; a
    job's exception reaches the caller that awaits it.
    """

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._ident: int | None = None  # the thread's id, once a job ran there

    @property
    def waiting(self) -> int:
        """Jobs given and not started yet: a job that could run on and on (a decode loop
        that takes in new requests) looks here to make way for them."""
        return self._queued

    def _counted(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], Any]:
        with self._queued_lock:
            self._queued += 1

        def job() -> Any:
            self._ident = threading.get_ident()
            self._uncount()
            return fn(*args)

        return job

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the thread, after whatever is queued there."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """`run` for a caller that does not wait (any thread, the engine's own too)."""
        job = self._counted(fn, args)
        try:
            return self._pool.submit(job)
        except RuntimeError:  # closed: the job never runs
            self._uncount()
            raise

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the thread and block until it is done, for a caller with no
        event loop (a bench, a test's teardown); on the thread itself, or once it is
        closed (nothing runs there any more), right here."""
        if threading.get_ident() == self._ident:
            return fn(*args)
        try:
            future = self.submit(fn, *args)
        except RuntimeError:
            return fn(*args)
        return future.result()

    def _uncount(self) -> None:
        with self._queued_lock:
            self._queued -= 1

    def shut_down(self) -> None:
        """End the thread now, from any thread but its own (a load that failed)."""
        self._closed = True
        self._pool.shutdown(wait=False)

    async def close(self) -> None:
        """Let the queued jobs finish (without blocking the event loop), then end the
        thread; a job given after this raises RuntimeError. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await self.run(lambda: None)
        self._pool.shutdown(wait=True)

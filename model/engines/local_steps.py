"""Continuous batching for the transformers engine: rows join the batch being generated.

`generate()` runs a batch from its first token to its longest row's last, so a request
that came a moment after it started waited for all of those replies before its own first
token: on a GPU with a busy group, seconds of every reply. `StepLoop` decodes one token of
every running row per forward pass, as `generate()` does inside, and between two passes
it takes in the rows that came meanwhile: their prompts are read a piece a step (the
shared system prompt's states come from the prefix cache), beside any other prompt still
being read, and their KV states are put beside the running rows'. A row leaves the
batch, and is answered, at its own end.

The running rows' cache is one tensor per layer, [rows, heads, columns, head size].
Rows that joined later are shorter: they are padded on the left and masked out, and each
row keeps its own positions, so a row's numbers are those it would have alone (up to
float rounding from the batch's shape). The tensors keep rows and columns to spare, so a
row that joins is written into a free slot and a row that leaves gives its slot to the
last row: one row's states copied, not every row's (`RunningBatch`). Columns that every
row masks are cut off as rows leave.

The loop is a job of the engine thread (`EngineThread`). When another job waits for the
thread (an adapter load or switch, a smoke test, a background summary), the loop takes no
one new, lets the running rows end, and comes back after that job for the rows that came
meanwhile: the adapter never changes under a running row.

Only models whose cache is plain full attention (`DynamicLayer`s) take part; the others
keep `generate()`, a batch at a time (`LocalEngine.joins_running`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Protocol

from atri.config import GenerationSettings
from atri.out_of_memory import is_out_of_memory
from model.character.prompt import ChatMessages
from model.engines.base import (
    EngineRequestFailed,
    EngineStats,
    EngineThread,
    Generation,
    RowLimits,
    StepJob,
    ThreadLoop,
)
from model.engines.prefix_cache import pad_after_prefix, shared_prefix_length
from model.engines.read_pieces import LONG_PROMPT_TOKENS, ReadCosts

log = logging.getLogger(__name__)

# Prompt tokens read in one step while rows decode or other prompts are read: a chat
# turn's prompt is read over a step or two instead of holding every reply for all of it.
# A long one (a /v1 client's whole conversation, `read_pieces.LONG_PROMPT_TOKENS`) reads
# only about a step's worth beside replies, so they go on at about half speed.
READ_STEP_TOKENS = 128
# The most prompt tokens read in one piece when nothing else is decoded or read: pieces
# of about half a second (`ReadCosts`), so a request that comes meanwhile waits for one
# at most before its own prompt is read beside the rest; a GPU reads this many at once.
READ_ALONE_MOST_TOKENS = 2048
# Columns reserved past the filled part of the running cache, so that most steps write in
# place instead of copying every row's states (transformers' DynamicLayer concatenates).
ROOM_STEP = 64


@dataclass(eq=False)
class StepRow:
    """One request in the step loop: its chat and limits; once admitted, its prompt,
    its token cap and its reply so far. `done` is answered from the engine thread."""

    messages: ChatMessages
    gen: GenerationSettings
    limits: RowLimits
    done: Future[Generation] = field(default_factory=Future)
    prompt: list[int] = field(default_factory=list)
    cap: int = 1
    thinks: bool = False  # the prompt opens `<think>`
    jobs_before: int = 0  # step jobs run before it was admitted (`StepLoop.jobs_run`)
    version: str = ""
    new: list[int] = field(default_factory=list)
    # Prompt + reply on the model's device, [1, tokens], once a repetition penalty needs
    # it; then one token is appended a step (built anew from the lists, 0.24 ms a row at
    # 2,000 tokens: a fifth of a GPU step at 8 rows).
    ids: Any = None

    def gone(self) -> bool:
        """Nobody waits for the rest of this reply."""
        return self.done.cancelled() or self.limits.abandoned()


class StepHost(Protocol):
    """What the step loop needs from its engine (LocalEngine)."""

    model: Any
    stop_ids: list[int]
    active_adapter: str
    last_only: dict[str, int]  # forward's keyword for the last position's logits alone
    context_window: int

    @property
    def pad_id(self) -> int: ...

    @property
    def caches_prefixes(self) -> bool:
        """Whether the prefix cache is on."""
        ...

    def encode(self, rows: list[StepRow]) -> list[list[int]]:
        """The rows' prompts as tokens; sets each row's prompt, cap and `thinks`."""
        ...

    def cached(self, prefix: list[int]) -> int:
        """How many of `prefix`'s first tokens the live adapter's prefix cache holds."""
        ...

    def warm(self, prefix: list[int]) -> bool:
        """Put `prefix`'s states in the live adapter's prefix cache; False when the
        cache is off (it turns itself off for good on a model it cannot serve)."""
        ...

    def prefix_states(self, prompts: list[list[int]], grow: bool = True) -> tuple[int, Any]:
        """(tokens the prompts share, the prefix cache's states of them for every row),
        or (0, None). `grow=False`: only what the cache holds already, leaving it as it is."""
        ...

    def scope(self) -> Any:
        """A context in which forward passes run with the live adapter (or none)."""
        ...

    def decoding(self, versions: list[str]) -> Any:
        """A context for a decode step of rows admitted under these adapter versions,
        giving the forward pass's extra keywords (rows of a version a switch left)."""
        ...

    def fall_back(self, rows: list[StepRow], reason: str) -> None:
        """Serve these rows, and every later one, with generate(), a batch at a time."""
        ...

    def stopped(self, row: StepRow) -> bool:
        """Whether the row's reply so far holds one of its stop strings."""
        ...

    def answer(self, row: StepRow) -> Generation:
        """The row's reply from its new tokens (counted in the engine's stats)."""
        ...


def fail(done: Future[Any], exc: BaseException) -> None:
    if not done.done():
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            done.set_exception(exc)


def settle(done: Future[Any], value: Any) -> None:
    if not done.done():
        with contextlib.suppress(InvalidStateError):
            done.set_result(value)


class StepLoop:
    """The inbox of rows and the engine thread's decode loop over them."""

    # False: one prompt read at a time, a lone one whole, as before concurrent readings
    # (a bench's baseline): a request that came meanwhile waited for all of it.
    reads_together = True

    def __init__(
        self, host: StepHost, thread: EngineThread, stats: EngineStats, keyword: str, config: Any
    ) -> None:
        self.host = host
        self.thread = thread
        self.batch = RunningBatch(keyword, config)
        self._loop = ThreadLoop(thread, self.serve, "the local engine")
        self._inbox: list[StepRow] = []
        # Run between two steps (`between_steps`), each with the adapter version it waits
        # to be unused, if any.
        self._step_jobs: deque[tuple[StepJob, str | None]] = deque()
        self.stats = stats
        # Prompts being read, each a piece a step; only the first may grow the prefix
        # cache (`Reading.warms`).
        self.readings: list[Reading] = []
        self.costs = ReadCosts()  # what a step and a prompt token cost, for the pieces' size
        self.steps_done = 0
        self.jobs_run = 0  # step jobs run so far

    def add(self, rows: list[StepRow]) -> None:
        """Queue rows; the loop takes them in at its next step, or starts with them."""

        def put() -> None:
            for row in rows:
                row.jobs_before = self.jobs_run
            self._inbox.extend(rows)

        def take_back() -> None:
            self._inbox = [r for r in self._inbox if r not in rows]

        self._loop.give(put, take_back)

    def close(self) -> None:
        with self._loop.lock:
            self._loop.closed = True

    def between_steps(
        self, fn: Callable[..., Any], *args: Any, unused: str | None = None
    ) -> Future[Any]:
        """Run `fn(*args)` on the engine thread without ending the rows in flight: between
        two of the loop's steps (`_run_step_jobs` says which), started for it if need be. Only
        for work that leaves the running rows' states and the live adapter as they were
        (it may switch peft's active adapter while it runs, and restore it). `unused`: only
        once no row in flight decodes with that adapter version (unloading the version a
        switch left)."""
        job = StepJob(fn, args)
        entry = (job, unused)
        self._loop.give(
            lambda: self._step_jobs.append(entry), lambda: self._step_jobs.remove(entry)
        )
        return job.done

    def _run_step_jobs(self) -> None:
        """Run the step jobs that may run now. No reply waits for two of them: one runs
        only once every row in flight started after the last one ran (as with one job
        between two generate() batches), so a reload's five jobs stall each reply once at
        most, and the reload itself takes a few replies' time."""
        while True:
            with self._loop.lock:
                if not self._job_ready():
                    return
                job, _ = self._step_jobs.popleft()
            # Counted before its caller hears it ran: a row the caller gives next did
            # not wait for it (counted after, that row was held back for the next job).
            job.run(ran=self._count_job)

    def _count_job(self) -> None:
        with self._loop.lock:
            self.jobs_run += 1

    def _job_ready(self) -> bool:
        """Whether the next step job may run now: no prompt is half read (it reads with
        the live adapter), no row in flight or waiting saw the last job, and none decodes
        with the version the job is to leave alone."""
        if not self._step_jobs or self.readings or self._saw_a_job():
            return False
        version = self._step_jobs[0][1]
        return version is None or all(row.version != version for row in self.batch.rows)

    def _held(self) -> list[StepRow]:
        return self.batch.rows + [row for reading in self.readings for row in reading.rows]

    def _saw_a_job(self) -> bool:
        """Whether a row in flight, or waiting, came before the last step job ran."""
        return any(row.jobs_before < self.jobs_run for row in self._held() + self._inbox)

    def serve(self) -> None:
        """The loop: take the inbox in, step the running rows, until nothing is left.
        While another job waits for the thread no one new is taken; once the running
        rows ended the loop gives way, and is queued again behind that job."""
        while True:
            self._run_step_jobs()
            with self._loop.lock:
                for row in self._inbox:
                    if row.gone():  # nobody waits for it: not run
                        settle(row.done, Generation(text="", new_tokens=0, adapter_version=""))
                self._inbox = [r for r in self._inbox if not r.gone()]
                self._drop_abandoned_readings()
                held = self._held()
                if not self._loop.closed and self._job_ready():
                    continue  # given meanwhile, and may run now
                if self._loop.closed or not (held or self._inbox or self._step_jobs):
                    closed = RuntimeError("the local engine is closed")
                    for row in self._inbox + held:
                        fail(row.done, closed)
                    for job, _ in self._step_jobs:
                        fail(job.done, closed)
                    self._step_jobs.clear()
                    self._inbox, self.readings = [], []
                    self.batch.clear()
                    self._loop.serving = False
                    return
                taking: list[StepRow] = []
                if self._inbox and not self.thread.waiting and self._may_start_reading():
                    taking, self._inbox = self._inbox, []
                elif not held and self.thread.waiting:
                    self.thread.submit(self.serve)  # after the job that waits
                    return
            held += taking
            try:
                self._advance(taking)
            except Exception as exc:
                self.batch.clear()
                self.readings = []
                self._failed([row for row in held if not row.done.done()], exc)

    def _advance(self, taking: list[StepRow]) -> None:
        """Start reading `taking`, read on, and step the running rows. In inference mode
        throughout: the running cache's tensors are written in place, which torch allows
        only there."""
        import torch

        with torch.inference_mode():
            if taking or self.readings:
                with self.host.scope():
                    if taking:
                        self._start_reading(taking)
                    self._read()
            if self.batch.rows:
                self._step()

    def _failed(self, rows: list[StepRow], exc: Exception) -> None:
        """A forward pass failed. Out of memory (a GPU's, or RAM: a plain RuntimeError on
        CPU) fails these rows alone: the next, shorter request may fit. Otherwise, before
        any step worked, the model takes no part (its forward refuses these inputs): these
        rows and every later one go through generate(). After, the rows are told and the
        loop goes on."""
        if is_out_of_memory(exc):
            self._out_of_memory(rows, exc)
            return
        if not self.steps_done:
            with self._loop.lock:
                rows += self._inbox
                self._inbox = []
            self.host.fall_back(rows, f"{type(exc).__name__}: {exc}")
            return
        log.error("generation failed for %d rows", len(rows), exc_info=exc)
        for row in rows:
            fail(row.done, exc)

    def _out_of_memory(self, rows: list[StepRow], exc: Exception) -> None:
        """Each row fails with one sentence (its caller logs it, no traceback): the
        prompts' size and the setting that bounds it."""
        longest = max((len(row.prompt) for row in rows), default=0)
        failed = EngineRequestFailed(
            f"Memory ran out generating {len(rows)} row(s) (the longest prompt "
            f"{longest:,} tokens; {type(exc).__name__}: {str(exc).strip()[-200:]}): lower "
            f"[model] context_window (now {self.host.context_window}), or use engine = "
            '"llamacpp", to fit this machine.'
        )
        failed.__cause__ = exc
        for row in rows:
            fail(row.done, failed)

    def _drop_abandoned_readings(self) -> None:
        """Prompts nobody waits for any more (a /v1 client that left while its whole
        conversation was read) are read no further: they would slow the replies beside
        them, and hold back step jobs and newcomers, for nothing."""
        for reading in [r for r in self.readings if all(row.gone() for row in r.rows)]:
            self.readings.remove(reading)
            for row in reading.rows:
                settle(row.done, Generation(text="", new_tokens=0, adapter_version=row.version))

    def _may_start_reading(self) -> bool:
        """Whether rows in the inbox start being read now, beside any prompt being read:
        not while a step job waits for those readings to end (the job goes first, as it
        would if the inbox had come a moment later), nor beside another reading in the
        bench's baseline (`reads_together`)."""
        if not self.readings:
            return True
        return self.reads_together and not self._step_jobs

    def _start_reading(self, rows: list[StepRow]) -> None:
        if self.batch.rows:
            self.stats.joined_rows += len(rows)
        version = self.host.active_adapter
        for row in rows:
            row.version = version
        prompts = self.host.encode(rows)
        groups = reading_groups(prompts) if self.reads_together else [list(range(len(rows)))]
        for group in groups:
            self.readings.append(
                Reading(
                    self.host,
                    [rows[i] for i in group],
                    [prompts[i] for i in group],
                    self.batch,
                    warms=not self.readings,
                )
            )

    def _read(self) -> None:
        """The next piece of each prompt being read (`_piece`), so that neither the
        replies in flight nor a request that comes meanwhile wait for all of a long
        prompt. A prompt read to the end joins the batch, its first token chosen."""
        alone = not self.batch.rows and len(self.readings) == 1
        on_gpu = self.host.model.device.type == "cuda"
        for reading in list(self.readings):
            started = time.perf_counter()
            logits = reading.read(self._piece(reading, alone))
            if on_gpu:  # the piece's time, not only the time to queue it
                import torch

                torch.cuda.synchronize()
            self.costs.read(reading.last_read, time.perf_counter() - started)
            if logits is None:
                continue
            self.readings.remove(reading)
            first = self._next(logits, reading.rows)
            self.batch.join(reading.rows, reading.layers(), reading.mask, first)
            self._record(reading.rows, first)

    def _piece(self, reading: Reading, alone: bool) -> int | None:
        """How many prompt tokens `reading` reads this step (None: all it has left):
        about half a second's worth alone; a step's worth for a long prompt beside
        replies or a chat turn's prompt being read (which then starts replying sooner);
        else READ_STEP_TOKENS (`read_pieces`). The bench's baseline (`reads_together`
        off) reads a lone prompt whole and READ_STEP_TOKENS beside."""
        if not self.reads_together:
            return None if alone else READ_STEP_TOKENS
        if alone:
            return self.costs.read_piece(READ_ALONE_MOST_TOKENS)
        if reading.left() > LONG_PROMPT_TOKENS and (
            self.batch.rows
            or any(r.left() <= LONG_PROMPT_TOKENS for r in self.readings if r is not reading)
        ):
            return self.costs.long_share(READ_STEP_TOKENS)
        return READ_STEP_TOKENS

    def _step(self) -> None:
        versions = [row.version for row in self.batch.rows]
        started = time.perf_counter()
        with self.host.decoding(versions) as kwargs:
            logits = self.batch.step(self.host.model, kwargs)
            chosen = self._next(logits, self.batch.rows)
        self.steps_done += 1
        self.batch.last = chosen
        self._record(self.batch.rows, chosen)  # waits for the device's numbers
        self.costs.stepped(time.perf_counter() - started)

    def _next(self, logits: Any, rows: list[StepRow]) -> Any:
        min_new = getattr(self.host.model.generation_config, "min_new_tokens", None) or 0
        return next_tokens(logits, rows, self.host.stop_ids, min_new)

    def _record(self, rows: list[StepRow], tokens: Any) -> None:
        """Append each row's new token; rows that ended are answered and leave."""
        import torch

        values = tokens.tolist()  # one copy from the device a step
        ended: set[StepRow] = set()
        for i, (row, token) in enumerate(zip(rows, values, strict=True)):
            row.new.append(token)
            if row.ids is not None:
                row.ids = torch.cat([row.ids, tokens[i : i + 1].view(1, 1)], dim=1)
            if row.gone():
                ended.add(row)
                settle(row.done, self.host.answer(row))  # counted as decoded; if read, cut
            elif (
                token in self.host.stop_ids
                or len(row.new) >= row.cap
                or (row.limits.stop and self.host.stopped(row))
            ):
                ended.add(row)
                try:
                    settle(row.done, self.host.answer(row))
                except Exception as exc:
                    fail(row.done, exc)
        if ended:
            self.batch.keep([i for i, row in enumerate(self.batch.rows) if row not in ended])


def reading_groups(prompts: list[list[int]]) -> list[list[int]]:
    """Which of the prompts that came together are read together (indices): those within
    LONG_PROMPT_TOKENS of the shortest, then each longer one on its own. Read with them, a
    long one (a /v1 client's whole conversation) would pad every chat turn to its length
    and hold their replies for all of it."""
    shortest = min(len(prompt) for prompt in prompts)
    together = [i for i, p in enumerate(prompts) if len(p) - shortest <= LONG_PROMPT_TOKENS]
    return [together, *([i] for i in range(len(prompts)) if i not in together)]


class Reading:
    """New rows' prompts, read a piece at a time: first the start they share, into the
    prefix cache (which computes only what it does not hold yet), then each row's own
    tokens, padded after that start, into a cache of their own.

    `warms=False` (a prompt read beside another): the prefix cache is only read from,
    as far as it holds this start already. The cache keeps one prefix per adapter, so
    two readings that both put theirs in would cut each other's back and read it again."""

    def __init__(
        self,
        host: StepHost,
        rows: list[StepRow],
        prompts: list[list[int]],
        batch: RunningBatch,
        warms: bool = True,
    ) -> None:
        self.host = host
        self.rows = rows
        self.batch = batch
        self.warms = warms
        self.prompts = prompts  # the rows' tokens (`StepHost.encode`)
        self.shared = shared_prefix_length(self.prompts)
        # Of the shared start: what the prefix cache holds already is not read again
        # (warming a shorter prefix would cut its entry back to that).
        self.warmed = (
            host.cached(self.prompts[0][: self.shared])
            if host.caches_prefixes and warms
            else self.shared
        )
        self.cache: Any = None  # once the shared start is in the prefix cache
        self.at = 0  # columns read into `cache`
        self.last_read = 0  # tokens the last `read` computed, every row's together
        if not warms:
            self._start()  # what it takes from the prefix cache is known now, and `left`

    def read(self, budget: int | None) -> Any:
        """Read about `budget` more prompt tokens (None: all that is left): the last
        position's scores once the prompts are read whole, else None."""
        self.last_read = 0
        if self.warmed < self.shared:
            before = self.warmed
            self.warmed = self.shared if budget is None else min(self.shared, self.warmed + budget)
            if not self.host.warm(self.prompts[0][: self.warmed]):
                self.warmed = self.shared  # no prefix cache: the start is read as the rest
            elif budget is not None:
                self.last_read = self.warmed - before
                return None
        if self.cache is None:
            self._start()
        width = self.ids.shape[1]
        end = width if budget is None else min(width, self.at + max(1, budget // len(self.rows)))
        out = self.host.model(
            input_ids=self.ids[:, self.at : end],
            attention_mask=self.mask[:, :end],
            position_ids=self.positions[:, self.at : end],
            use_cache=True,
            **{self.batch.keyword: self.cache},
            **self.host.last_only,
        )
        self.last_read = (end - self.at) * len(self.rows)
        self.at = end
        return out.logits[:, -1, :] if end == width else None

    def left(self) -> int:
        """Prompt tokens still to read, of the longest row (the others are padded to it)."""
        if self.cache is None:
            longest = max(len(prompt) for prompt in self.prompts)
            return self.shared - self.warmed + longest - self.shared
        return int(self.ids.shape[1]) - self.at

    def _start(self) -> None:
        import torch
        from transformers import DynamicCache

        shared, states = self.host.prefix_states(self.prompts, grow=self.warms)
        ids, mask = pad_after_prefix(self.prompts, shared, self.host.pad_id)
        device = self.host.model.device
        self.ids = torch.tensor(ids, device=device)
        self.mask = torch.tensor(mask, device=device)
        # Positions as generate() gives them: each row counts only its own tokens.
        self.positions = (self.mask.cumsum(dim=1) - 1).clamp(min=0)
        self.cache = states if states is not None else DynamicCache(config=self.batch.config)
        self.at = shared

    def layers(self) -> list[tuple[Any, Any]]:
        return [(layer.keys, layer.values) for layer in self.cache.layers]


@dataclass
class RunningBatch:
    """The rows being decoded together and their KV states (module docstring).

    Each layer's states live in slots ([row, heads, column, head size], `SlotLayer`) with
    rows and columns to spare: a row that joins is written into the next free slot when
    its states fit the columns the running rows span (or the room left of them), and a
    row that leaves has its slot taken by the last row, so most joins and leaves copy one
    row's states, not every row's. Rows end at the same column; each is padded on its
    left and masked."""

    keyword: str  # forward's name for the cache argument
    config: Any
    rows: list[StepRow] = field(default_factory=list)
    cache: Any = None  # a DynamicCache of SlotLayers
    mask: Any = None  # [rows, columns]: 1 where a row has a state
    positions: Any = None  # [rows]: each row's next position
    last: Any = None  # [rows]: each row's latest token, the next step's input
    laid_out: int = 0  # caches laid out afresh (every row's states copied), for tests and benches
    # False: laid out afresh at every join and leave, as before slots (a bench's baseline).
    reuse_slots: bool = True

    def clear(self) -> None:
        self.rows, self.cache = [], None
        self.mask = self.positions = self.last = None

    def join(
        self, rows: list[StepRow], layers: list[tuple[Any, Any]], mask: Any, first: Any
    ) -> None:
        """Put rows whose prompts were just read (their states, attention mask and first
        new token) beside the running ones, right-aligned with them."""
        import torch

        positions = mask.sum(dim=1)
        if not self.rows:
            self.rows, self.mask, self.positions, self.last = list(rows), mask, positions, first
            self._lay_out([([k], [v]) for k, v in layers], mask.shape[1])
            return
        slots: list[Any] = self.cache.layers
        width = max(self.mask.shape[1], mask.shape[1])
        if self.reuse_slots and slots[0].fits(len(rows), width):
            for layer, (k, v) in zip(slots, layers, strict=True):
                layer.put(len(self.rows), k, v, width)
        else:
            pairs = zip(slots, layers, strict=True)
            self._lay_out([([old.keys, k], [old.values, v]) for old, (k, v) in pairs], width)
        self.mask = torch.cat([_left_pad_mask(self.mask, width), _left_pad_mask(mask, width)])
        self.positions = torch.cat([self.positions, positions])
        self.last = torch.cat([self.last, first])
        self.rows.extend(rows)

    def step(self, model: Any, kwargs: dict[str, Any]) -> Any:
        """One forward pass over every row's latest token (`kwargs`: the model's own,
        such as peft's adapter of each row): the scores of each row's next token,
        [rows, vocabulary]."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=1)
        out = model(
            input_ids=self.last[:, None],
            attention_mask=self.mask,
            position_ids=self.positions[:, None],
            use_cache=True,
            **{self.keyword: self.cache},
            **kwargs,
        )
        self.positions = self.positions + 1
        return out.logits[:, -1, :]

    def keep(self, keep: list[int]) -> None:
        """Only the rows at these indices go on: the last rows move into the slots of
        those that left, and leading columns no row needs are cut (neither copies the
        others' states)."""
        import torch

        if len(keep) == len(self.rows):
            return
        if not keep:
            self.clear()
            return
        count = len(keep)
        movers = iter(i for i in keep if i >= count)
        kept = set(keep)
        source = [i if i in kept else next(movers) for i in range(count)]
        slots: list[Any] = self.cache.layers
        for slot, row in enumerate(source):
            if slot != row:
                for layer in slots:
                    layer.move(row, slot)
        index = torch.tensor(source, device=self.mask.device)
        self.rows = [self.rows[i] for i in source]
        mask = self.mask.index_select(0, index)
        used = mask.any(dim=0).nonzero()
        lead = int(used[0]) if len(used) else 0
        self.mask = mask[:, lead:]
        self.positions = self.positions.index_select(0, index)
        self.last = self.last.index_select(0, index)
        for layer in slots:
            layer.cut(count, lead)
        if not self.reuse_slots:
            self._lay_out([([layer.keys], [layer.values]) for layer in slots], self.mask.shape[1])

    def _lay_out(self, layers: list[tuple[list[Any], list[Any]]], width: int) -> None:
        """A new cache whose layers hold, row block after row block, these keys and
        values, each block right-aligned in `width` columns, with slots to spare."""
        from transformers import DynamicCache

        slot_layer = slot_layer_class()
        cache: Any = DynamicCache(config=self.config)
        cache.layers = [slot_layer(keys, values, width) for keys, values in layers]
        self.cache = cache
        self.laid_out += 1


# Spare slots of a new running cache, one per this many rows: rows that may join before
# it is laid out again. A slot a row left stays free for the next, so a steady flow of
# users reuses slots; spares only serve a batch growing past its size, and cost KV memory
# (none for one or a few rows, as a single user's GPU memory is the same as without).
ROWS_PER_SPARE = 4
# Masked columns kept left of a new running cache's rows: a row whose prompt is a little
# longer than theirs still joins into a free slot.
LEFT_ROOM = 32


def slot_layer_class() -> Any:
    """A full-attention cache layer over slot storage: `keys`/`values` are the view
    [running rows, heads, start:end, head size] of tensors with spare rows,
    LEFT_ROOM columns on the left and ROOM_STEP on the right. New tokens are written in
    place; when the right runs out, the rows are laid out afresh."""
    from transformers.cache_utils import DynamicLayer

    class SlotLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, keys: list[Any], values: list[Any], width: int) -> None:
            super().__init__()
            self.rows = sum(block.shape[0] for block in keys)
            self.start, self.end = LEFT_ROOM, LEFT_ROOM + width
            slots = self.rows + self.rows // ROWS_PER_SPARE
            self._keys = _slots(keys, slots, width)
            self._values = _slots(values, slots, width)
            self.device = self._keys.device
            self.is_initialized = True
            self._view()

        def _view(self) -> None:
            self.keys = self._keys[: self.rows, :, self.start : self.end]
            self.values = self._values[: self.rows, :, self.start : self.end]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            new = key_states.shape[-2]
            if self.end + new > self._keys.shape[-2]:
                width = self.end - self.start
                self._keys = _slots([self.keys], self._keys.shape[0], width, new)
                self._values = _slots([self.values], self._values.shape[0], width, new)
                self.start, self.end = LEFT_ROOM, LEFT_ROOM + width
            self._keys[: self.rows, :, self.end : self.end + new] = key_states
            self._values[: self.rows, :, self.end : self.end + new] = value_states
            self.end += new
            self._view()
            return self.keys, self.values

        def fits(self, rows: int, width: int) -> bool:
            """Whether `rows` more fit the free slots, all `width` columns wide."""
            return self.rows + rows <= self._keys.shape[0] and width <= self.end

        def put(self, row: int, keys: Any, values: Any, width: int) -> None:
            """New rows' states into the slots from `row` on, right-aligned, the view
            widened on the left to `width` columns (masked for the rows already there)."""
            start = self.end - width
            if start < self.start:
                self._keys[: self.rows, :, start : self.start] = 0
                self._values[: self.rows, :, start : self.start] = 0
            self.start = start
            added = keys.shape[0]
            for store, block in ((self._keys, keys), (self._values, values)):
                store[row : row + added, :, start : self.end] = 0
                store[row : row + added, :, self.end - block.shape[-2] : self.end] = block
            self.rows += added
            self._view()

        def move(self, source: int, slot: int) -> None:
            for store in (self._keys, self._values):
                store[slot, :, self.start : self.end] = store[source, :, self.start : self.end]

        def cut(self, rows: int, lead: int) -> None:
            self.rows, self.start = rows, self.start + lead
            self._view()

    return SlotLayer


def _slots(blocks: list[Any], rows: int, width: int, more: int = 0) -> Any:
    """Slot storage for `rows` rows: the row blocks ([rows, heads, columns, dim] each) one
    under the other, each right-aligned to end at column LEFT_ROOM + `width`, with at
    least ROOM_STEP (and `more`) columns to spare past it; zeros elsewhere."""
    import torch

    first = blocks[0]
    _, heads, _, dim = first.shape
    end = LEFT_ROOM + width
    out = torch.zeros(
        (rows, heads, end + max(ROOM_STEP, more), dim), dtype=first.dtype, device=first.device
    )
    row = 0
    for block in blocks:
        out[row : row + block.shape[0], :, end - block.shape[-2] : end] = block
        row += block.shape[0]
    return out


def _left_pad_mask(mask: Any, width: int) -> Any:
    import torch

    missing = width - mask.shape[1]
    if missing == 0:
        return mask
    return torch.cat([mask.new_zeros((mask.shape[0], missing)), mask], dim=1)


def next_tokens(logits: Any, rows: list[StepRow], stop_ids: list[int], min_new: int) -> Any:
    """Each row's next token from its scores, by generate()'s rules and order: no stop
    token before `min_new` new tokens (the model's generation config), repetition
    penalty over the prompt and reply, then, when sampling, temperature, top-k and top-p
    and a draw; else the best score."""
    import torch
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    scores = logits.float()
    early = [i for i, row in enumerate(rows) if len(row.new) < min_new]
    stops = [t for t in stop_ids if 0 <= t < scores.shape[-1]]
    if early and stops:
        at = torch.tensor(early, device=scores.device)[:, None]
        scores[at, torch.tensor(stops, device=scores.device)] = -float("inf")
    if all(not row.gen.do_sample and row.gen.repetition_penalty == 1.0 for row in rows):
        return scores.argmax(dim=-1)  # greedy: one call for the batch
    chosen = []
    no_ids = torch.zeros((1, 0), dtype=torch.long, device=scores.device)  # warpers ignore ids
    for i, row in enumerate(rows):
        row_scores = scores[i : i + 1]
        gen = row.gen
        ids = no_ids
        if gen.repetition_penalty != 1.0:
            if row.ids is None:
                row.ids = torch.tensor([row.prompt + row.new], device=scores.device)
            ids = row.ids
            row_scores = RepetitionPenaltyLogitsProcessor(gen.repetition_penalty)(ids, row_scores)
        if gen.do_sample:
            row_scores = TemperatureLogitsWarper(gen.temperature)(ids, row_scores)
            if gen.top_k > 0:
                row_scores = TopKLogitsWarper(gen.top_k)(ids, row_scores)
            if gen.top_p < 1.0:
                row_scores = TopPLogitsWarper(gen.top_p)(ids, row_scores)
            probs = torch.softmax(row_scores, dim=-1)
            chosen.append(torch.multinomial(probs, 1).reshape(1))
        else:
            chosen.append(row_scores.argmax(dim=-1).reshape(1))
    return torch.cat(chosen)

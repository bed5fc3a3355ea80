"""Dynamic batching: requests that arrive together are generated together.

The batcher gathers up to `max_batch` prompts, waiting at most `window` seconds after
the first one, and hands them to the engine as one batch. The queue is bounded: when
it is full, `submit` raises `Overloaded` at once instead of letting latency grow.

Most engines run one batch at a time, so the next batch is gathered only once the last
one finished. An engine whose rows join the batch it is already generating
(`JoinsRunningBatch`: llama.cpp's decode loop, vLLM's continuous batching behind the
openai engine) gets its rows without waiting for the earlier ones, so a request
arriving mid-generation starts at the engine's next step instead of after the longest
reply in flight, and each caller is answered at its own row's end, not its batch's. At
most `max_batch` rows are in flight then (more wait in the bounded queue; a row's place
frees when it ends), and the window applies only while none are: a row joining a running
batch gains nothing from waiting for company.

Background work (a memory summary) goes through `submit_low`: such a job starts only
when no live job waits or is being generated, so a reply never queues behind it. An
`overdue` job, one that has waited long enough under steady load, goes at the next batch
boundary instead. With an engine that runs a batch at a time the job runs alone (a live
reply beside it would be held to its length; one that arrives meanwhile waits for that
generation only). A joining engine takes it as one more row, with its own settings:
live rows in flight go on beside it, and those that arrive meanwhile join it. A failed
background job is its caller's to log (the summariser's, rate-limited); a failed reply
batch is logged here, with its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import (
    NO_LIMITS,
    EndsRowsApart,
    Engine,
    EngineRequestFailed,
    Generation,
    JoinsRunningBatch,
    RowLimits,
)
from model.tasks import stop_task

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue is full; the caller answers with the busy reply."""


@dataclass
class _Job:
    messages: ChatMessages
    future: asyncio.Future[Generation]
    gen: GenerationSettings | None = None  # a low-priority job's own settings
    overdue: bool = False  # low priority that runs before the next live batch
    limits: RowLimits = NO_LIMITS  # the request's own cap and stop strings
    # The adapter version its prompt was built for (None: any): a job still queued when
    # another went live is answered at once, ungenerated (`_stale`), for a new prompt.
    version: str | None = None

    @property
    def low(self) -> bool:
        """Background work (`submit_low`): its caller logs its failures, rate-limited."""
        return self.gen is not None


class BatchObserver(Protocol):
    """The metrics hook (model/metrics.py's WorkerMetrics)."""

    def observe_batch(self, rows: int) -> None:
        """Rows generating together: a batch's, or on a joining engine, the rows in
        flight once a new batch's have joined them."""

    def observe_generated(self, new_tokens: int, started: float, ended: float) -> None:
        """One generation's new tokens, and when it started and ended (time.monotonic):
        a batch's, or on a joining engine, one row's."""


class Batcher:
    def __init__(
        self,
        engine: Engine,
        gen: GenerationSettings,
        max_batch: int,
        window_seconds: float,
        queue_size: int,
        observer: BatchObserver | None = None,
    ) -> None:
        self.engine = engine
        self.observer = observer
        self.gen = gen
        self.max_batch = max_batch
        self.window = window_seconds
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._low: deque[_Job] = deque()
        # Live rows handed to a joining engine and not finished: the engine's future
        # for each, with its job.
        self._in_flight: dict[asyncio.Future[Generation], _Job] = {}
        # Set by every submit and every finished batch: the loop looks again.
        self._wake = asyncio.Event()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def low_depth(self) -> int:
        return len(self._low)

    @property
    def rows_in_flight(self) -> int:
        """Live rows handed to a joining engine that it has not answered yet."""
        return len(self._in_flight)

    @property
    def full(self) -> bool:
        """No place left for another job (places of callers that gave up are freed first)."""
        if not self._queue.full():
            return False
        self._drop_abandoned()
        return self._queue.full()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="atri-batcher")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        in_flight = list(self._in_flight.items())
        for row, _ in in_flight:
            row.cancel()  # the engine drops the row; its caller gets the busy reply
        await asyncio.gather(*(row for row, _ in in_flight), return_exceptions=True)
        waiting = [job for _, job in in_flight]
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        waiting += self._low
        self._low.clear()
        _fail(waiting, Overloaded("worker stopped"))

    async def submit(
        self, messages: ChatMessages, limits: RowLimits = NO_LIMITS, version: str | None = None
    ) -> Generation:
        """Generate in the next batch; `limits` hold for this row only, so requests with
        different caps or stop strings still share a batch. `version`: the adapter
        version the prompt was built for; if another is live when its batch is formed,
        the answer is an empty Generation of the live version, not generated (its caller
        builds the prompt again: a rollback landing on a full queue made every queued
        reply twice)."""
        loop = asyncio.get_running_loop()
        job = _Job(messages, loop.create_future(), limits=limits, version=version)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._drop_abandoned()
            try:
                self._queue.put_nowait(job)
            except asyncio.QueueFull:
                raise Overloaded(f"queue full ({self._queue.maxsize} waiting)") from None
        self._wake.set()
        return await job.future

    async def submit_low(
        self, messages: ChatMessages, gen: GenerationSettings, overdue: bool = False
    ) -> Generation:
        """Generate with `gen` when no live job waits or is in flight (`overdue`: at the
        next batch boundary, whatever waits); alone in its batch where the engine runs
        batches (a live reply is never held to its length), a row beside the live ones
        where it joins them."""
        job = _Job(messages, asyncio.get_running_loop().create_future(), gen, overdue)
        self._low.append(job)
        self._wake.set()
        return await job.future

    def _drop_abandoned(self) -> None:
        """Free the places of callers that gave up (timed out, disconnected): their jobs
        would otherwise hold the bounded queue full until the engine reached them."""
        alive = []
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                alive.append(job)
        for job in alive:
            self._queue.put_nowait(job)

    def _take_low(self, overdue_only: bool) -> _Job | None:
        """The first background job still wanted (only an overdue one if asked)."""
        for job in list(self._low):
            if job.future.done():
                self._low.remove(job)
            elif job.overdue or not overdue_only:
                self._low.remove(job)
                return job
        return None

    async def _collect(self) -> list[_Job]:
        """The next batch: an overdue background job; else live jobs, as many as fit
        beside the rows in flight; else, with nothing live waiting or in flight, a
        background job."""
        while True:
            if (overdue := self._take_low(overdue_only=True)) is not None:
                return [overdue]
            room = self.max_batch - self.rows_in_flight
            if room > 0 and not self._queue.empty():
                break
            if (
                self._queue.empty()
                and not self._in_flight
                and (job := self._take_low(overdue_only=False)) is not None
            ):
                return [job]  # nothing live waits or runs: background work may
            self._wake.clear()
            await self._wake.wait()
        jobs = [self._queue.get_nowait()]
        # Rows in flight: the engine takes these at its next step, so they go at once.
        window = self.window if not self._in_flight else 0.0
        deadline = asyncio.get_running_loop().time() + window
        while len(jobs) < room:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                while len(jobs) < room and not self._queue.empty():
                    jobs.append(self._queue.get_nowait())
                break
            try:
                jobs.append(await asyncio.wait_for(self._queue.get(), timeout))
            except TimeoutError:
                break
        # A caller that gave up (timeout, disconnect) needs no generation.
        return [j for j in jobs if not j.future.done() and not self._stale(j)]

    def _stale(self, job: _Job) -> bool:
        """Whether `job`'s prompt is for another adapter version than the live one; if
        so it is answered now, ungenerated, with the live version's name."""
        live = self.engine.adapter_version
        if job.version is None or job.version == live:
            return False
        job.future.set_result(Generation(text="", new_tokens=0, adapter_version=live))
        return True

    async def _run(self) -> None:
        joining = isinstance(self.engine, JoinsRunningBatch)
        while True:
            jobs = await self._collect()
            if not jobs:
                continue
            if joining:
                self._hand_over(jobs)
            else:
                await self._generate(jobs)

    def _hand_over(self, jobs: list[_Job]) -> None:
        """Jobs (live ones, or one background job with its own settings) to a joining
        engine, which starts their rows beside those in flight; each job is answered,
        and its place freed, when its own row ends. Nothing waits here for them: a
        background job does not hold the live ones that come after it."""
        assert isinstance(self.engine, JoinsRunningBatch)
        limits = [j.limits for j in jobs]
        gen = jobs[0].gen or self.gen
        try:
            rows = self.engine.generate_rows([j.messages for j in jobs], gen, limits)
        except Exception as exc:
            _log_failure(jobs, exc)
            _fail(jobs, exc)
            return
        started = time.monotonic()
        for job, row in zip(jobs, rows, strict=True):
            self._in_flight[row] = job
            row.add_done_callback(partial(self._row_ended, job, started))
            # A caller that gave up (timeout, disconnect) frees the engine's row too.
            job.future.add_done_callback(partial(_give_up, row))
        if self.observer is not None:
            self.observer.observe_batch(self.rows_in_flight)

    def _row_ended(self, job: _Job, started: float, row: asyncio.Future[Generation]) -> None:
        self._in_flight.pop(row, None)
        self._wake.set()  # room for more rows, or for background work
        if row.cancelled():
            if not job.future.done():
                job.future.set_exception(Overloaded("worker stopped"))
            return
        if (exc := row.exception()) is not None:
            if not isinstance(exc, EngineRequestFailed) and not job.low:  # see _log_failure
                log.error("generation failed for a row", exc_info=exc)
            if not job.future.done():
                job.future.set_exception(exc)
            return
        result = row.result()
        if self.observer is not None:
            self.observer.observe_generated(result.new_tokens, started, time.monotonic())
        if not job.future.done():
            job.future.set_result(result)

    async def _generate(self, jobs: list[_Job]) -> None:
        """One batch through the engine; its outcome reaches exactly its jobs."""
        started = time.monotonic()
        gen = jobs[0].gen or self.gen
        try:
            batch = [j.messages for j in jobs]
            limits = [j.limits for j in jobs]
            apart = isinstance(self.engine, EndsRowsApart) and self.engine.ends_rows_apart
            if apart:
                loop = asyncio.get_running_loop()
                limits = [with_row_hooks(j, loop) for j in jobs]
            # Only told when a row has its own: an engine written without them
            # (a test's stand-in) keeps answering every other batch.
            results = await (
                self.engine.generate(batch, gen, limits)
                if apart or any(limit != NO_LIMITS for limit in limits)
                else self.engine.generate(batch, gen)
            )
        except asyncio.CancelledError:
            # stop(): the callers get the busy reply now, not at their own deadline.
            _fail(jobs, Overloaded("worker stopped"))
            raise
        except Exception as exc:
            _log_failure(jobs, exc)
            _fail(jobs, exc)
            return
        if self.observer is not None:
            self.observer.observe_batch(len(jobs))
            tokens = sum(r.new_tokens for r in results)
            self.observer.observe_generated(tokens, started, time.monotonic())
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)


def with_row_hooks(job: _Job, loop: asyncio.AbstractEventLoop) -> RowLimits:
    """The job's limits, with the hooks an `EndsRowsApart` engine calls from its own
    thread: `given_up`, set once nobody waits for the job's answer any more (its caller
    cancelled, or it was answered: the row has ended), and `deliver`, which answers the
    job the step its row ends."""
    flag = threading.Event()
    job.future.add_done_callback(lambda _: flag.set())

    def deliver(generation: Generation) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed (shutdown): nobody waits
            loop.call_soon_threadsafe(_answer, job.future, generation)

    return replace(job.limits, given_up=flag.is_set, deliver=deliver)


def _answer(future: asyncio.Future[Generation], generation: Generation) -> None:
    if not future.done():
        future.set_result(generation)


def _log_failure(jobs: list[_Job], exc: Exception) -> None:
    """A failed batch's traceback, unless its callers log it: an engine's refusal
    (`EngineRequestFailed`, one sentence), or background work alone (a memory summary,
    whose caller logs each kind of failure once a while, not every batch)."""
    if isinstance(exc, EngineRequestFailed) or all(job.low for job in jobs):
        return
    log.error("generation failed for a batch of %d", len(jobs), exc_info=exc)


def _fail(jobs: list[_Job], exc: BaseException) -> None:
    """Each job a caller still waits for gets `exc`."""
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)


def _give_up(row: asyncio.Future[Generation], job: asyncio.Future[Generation]) -> None:
    if job.cancelled():
        row.cancel()

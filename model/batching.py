"""Dynamic batching: requests that arrive together are generated together.

The batcher gathers up to `max_batch` prompts, waiting at most `window` seconds after
the first one, and hands them to the engine as one batch. The queue is bounded: when
it is full, `submit` raises `Overloaded` at once instead of letting latency grow.

Most engines run one batch at a time, so the next batch is gathered only once the last
one finished. An engine whose rows can join the batch it is already generating
(`joins_running_batch`: llama.cpp's decode loop, vLLM's continuous batching behind the
openai engine) gets its batches without waiting for the earlier ones, so a request
arriving mid-generation starts at the engine's next step instead of after the longest
reply in flight. At most `max_batch` rows are in flight then (more wait in the bounded
queue), and the window applies only while nothing is: a row joining a running batch
gains nothing from waiting for company.

Background work (a memory summary) goes through `submit_low`: such a job runs alone, and
only when no live job waits or is being generated, so a reply never queues behind it
(one that arrives while it is generating waits for that generation only). An `overdue`
job, one that has waited long enough under steady load, runs at the next batch boundary
instead (with a joining engine: at once, beside rows in flight if the engine allows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import NO_LIMITS, Engine, Generation, RowLimits

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


class Batcher:
    def __init__(
        self,
        engine: Engine,
        gen: GenerationSettings,
        max_batch: int,
        window_seconds: float,
        queue_size: int,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.engine = engine
        # Called after each batch with (rows, new tokens, seconds): the metrics hook.
        self.on_batch = on_batch
        self.gen = gen
        self.max_batch = max_batch
        self.window = window_seconds
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._low: deque[_Job] = deque()
        # Live batches handed to a joining engine and not finished, with their jobs.
        self._in_flight: dict[asyncio.Task[None], list[_Job]] = {}
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
        return sum(len(jobs) for jobs in self._in_flight.values())

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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        in_flight = list(self._in_flight.items())
        for task, _ in in_flight:
            task.cancel()
        await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)
        # A batch cancelled before it started never reached its own handler.
        waiting = [job for _, jobs in in_flight for job in jobs]
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        waiting += self._low
        self._low.clear()
        for job in waiting:
            if not job.future.done():
                job.future.set_exception(Overloaded("worker stopped"))

    async def submit(self, messages: ChatMessages, limits: RowLimits = NO_LIMITS) -> Generation:
        """Generate in the next batch; `limits` hold for this row only, so requests with
        different caps or stop strings still share a batch."""
        loop = asyncio.get_running_loop()
        job = _Job(messages, loop.create_future(), limits=limits)
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
        next batch boundary, whatever waits); alone in its batch, so a live reply is
        never held to its length."""
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
        return [j for j in jobs if not j.future.done()]

    async def _run(self) -> None:
        joins = bool(getattr(self.engine, "joins_running_batch", False))
        while True:
            jobs = await self._collect()
            if not jobs:
                continue
            if joins and jobs[0].gen is None:
                task = asyncio.create_task(self._generate(jobs), name="atri-batch")
                self._in_flight[task] = jobs
                task.add_done_callback(self._finished)
            else:
                # A background job, or an engine that runs one batch at a time.
                await self._generate(jobs)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()  # room for more rows, or for background work

    async def _generate(self, jobs: list[_Job]) -> None:
        """One batch through the engine; its outcome reaches exactly its jobs."""
        started = time.perf_counter()
        gen = jobs[0].gen or self.gen
        try:
            batch = [j.messages for j in jobs]
            limits = [j.limits for j in jobs]
            # Only told when a row has its own: an engine written without them
            # (a test's stand-in) keeps answering every other batch.
            results = await (
                self.engine.generate(batch, gen, limits)
                if any(limit != NO_LIMITS for limit in limits)
                else self.engine.generate(batch, gen)
            )
        except asyncio.CancelledError:
            # stop(): the callers get the busy reply now, not at their own deadline.
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(Overloaded("worker stopped"))
            raise
        except Exception as exc:
            log.exception("generation failed for a batch of %d", len(jobs))
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        if self.on_batch is not None:
            tokens = sum(r.new_tokens for r in results)
            self.on_batch(len(jobs), tokens, time.perf_counter() - started)
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

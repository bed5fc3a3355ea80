"""Dynamic batching, overload and timeouts on the real tiny model; batches handed to an
engine whose rows join the batch it is running (llama.cpp, vLLM), on a stand-in whose rows
finish when a test says."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from atri.config import GenerationSettings, Settings
from model.batching import Batcher, Overloaded
from model.character.prompt import ChatMessages
from model.engines.base import EngineStats, Generation, RowLimits
from model.protocol import ChatRequest
from model.service import ChatService

# Different lengths, so a batch really needs left padding.
PROMPTS = [
    "hi",
    "hello ATRI, how are you today?",
    "what is your favourite food",
    "tell me about the sea",
    "ok",
    "do you remember the town under the water and the summer we met there?",
    "good night",
    "can robots dream?",
]


def req(text: str, user: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id=user, text=text, display_name=user)


async def test_eight_concurrent_chats_are_batched_and_match_alone(
    tiny_settings: Settings,
) -> None:
    tiny_settings.worker.batch_window_ms = 200
    tiny_settings.generation.max_new_tokens = 12
    alone_settings = tiny_settings.model_copy(deep=True)
    alone_settings.memory.path = str(tiny_settings.path("alone.sqlite3"))
    async with await ChatService.open(alone_settings) as service:
        alone = [(await service.chat(req(p, f"u{i}"))).text for i, p in enumerate(PROMPTS)]
        assert service.engine.stats.generate_calls == len(PROMPTS)

    async with await ChatService.open(tiny_settings) as service:
        together = await asyncio.gather(
            *(service.chat(req(p, f"u{i}")) for i, p in enumerate(PROMPTS))
        )
        assert [r.status for r in together] == ["ok"] * len(PROMPTS)
        assert service.engine.stats.generate_calls < len(PROMPTS)
        assert max(service.engine.stats.batch_sizes) > 1
        assert [r.text for r in together] == alone
        metrics = service.metrics.render().decode()
        assert "atri_batch_size_count" in metrics
        assert 'atri_requests_total{api="chat",status="ok"} 8.0' in metrics


async def test_overload_and_timeout_answer_busy_and_queue_stays_bounded(
    tiny_settings: Settings,
) -> None:
    tiny_settings.worker.max_batch = 1
    tiny_settings.worker.queue_size = 2
    busy = tiny_settings.worker.busy_reply
    async with await ChatService.open(tiny_settings) as service:
        engine = service.engine
        assert (await service.chat(req("warm up", "warm"))).status == "ok"
        service.settings.worker.request_timeout_seconds = 0.3
        # The engine thread is stuck (as during a slow adapter load) for longer than
        # any request may wait.
        stall = asyncio.ensure_future(engine.thread.run(time.sleep, 1.0))  # type: ignore[attr-defined]
        chats = [
            asyncio.ensure_future(service.chat(req(p, f"u{i}"))) for i, p in enumerate(PROMPTS)
        ]
        depths = []
        while not all(c.done() for c in chats):
            depths.append(service.batcher.depth)
            await asyncio.sleep(0.01)
        replies = [c.result() for c in chats]
        assert {r.status for r in replies} == {"busy"}
        assert {r.text for r in replies} == {busy}
        assert max(depths) <= 2
        # The first six either waited in the bounded queue or were refused at once.
        assert sum(r.latency_ms < 100 for r in replies) >= len(PROMPTS) - 3
        for reply in replies:
            assert await service.memory.history(reply.scope) == []
        await stall
        service.settings.worker.request_timeout_seconds = 30
        after = await service.chat(req("are you back?", "late"))
        assert after.status == "ok"
        metrics = service.metrics.render().decode()
        assert 'atri_requests_total{api="chat",status="busy"} 8.0' in metrics
        assert 'atri_requests_total{api="chat",status="ok"} 2.0' in metrics


class OneBatchAtATime:
    """An engine running one batch at a time (the local transformers engine) whose rows
    finish when the test sets their event (`release`, keyed by the row's text); a row
    whose text starts with "fail" fails."""

    name = "step"
    base_id = "step"
    config_hash = "step"
    context_window = 32768

    def __init__(self) -> None:
        self.stats = EngineStats()
        self.release: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.batches: list[list[str]] = []  # each generate call's rows, in call order
        self.gens: list[GenerationSettings] = []
        self.in_flight = 0  # rows being generated now
        self.most_in_flight = 0
        self.cancelled: list[str] = []

    @property
    def adapter_version(self) -> str:
        return ""

    def count_tokens(self, text: str) -> int:
        return len(text)

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        return list(await asyncio.gather(*self._start(batch, gen)))

    def _start(self, batch: list[ChatMessages], gen: GenerationSettings) -> list[Any]:
        texts = [m[-1]["content"] for m in batch]
        self.batches.append(texts)
        self.gens.append(gen)
        return [asyncio.ensure_future(self._row(t)) for t in texts]

    async def _row(self, text: str) -> Generation:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release[text].wait()
        except asyncio.CancelledError:
            self.cancelled.append(text)
            raise
        finally:
            self.in_flight -= 1
        if text.startswith("fail"):
            raise RuntimeError(f"the engine broke on {text}")
        return Generation(text=f"re: {text}", new_tokens=len(text))

    async def close(self) -> None:
        return None


class StepEngine(OneBatchAtATime):
    """The same engine, its rows joining those in flight and ending one by one
    (llama.cpp's decode loop, vLLM)."""

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        return self._start(batch, gen)


class Observed:
    """The batcher's metrics hook, recorded."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.generated: list[int] = []

    def observe_batch(self, rows: int) -> None:
        self.batches.append(rows)

    def observe_generated(self, new_tokens: int, started: float, ended: float) -> None:
        assert ended >= started
        self.generated.append(new_tokens)


@contextlib.asynccontextmanager
async def started(engine: OneBatchAtATime, *args: Any, **kwargs: Any) -> AsyncIterator[Batcher]:
    """A running batcher over `engine` (Batcher's arguments after the settings)."""
    batcher = Batcher(engine, GenerationSettings(), *args, **kwargs)
    batcher.start()
    try:
        yield batcher
    finally:
        await batcher.stop()


def msg(text: str) -> ChatMessages:
    return [{"role": "system", "content": "card"}, {"role": "user", "content": text}]


async def until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    """Wait for `condition`; a test that asserts it right after fails if it never held."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


async def answer(job: asyncio.Future[Generation]) -> str:
    return (await asyncio.wait_for(job, 3)).text


def spawn(batcher: Batcher, text: str) -> asyncio.Task[Generation]:
    return asyncio.create_task(batcher.submit(msg(text)))


def batch_tasks_left(earlier: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """The batcher's tasks ("atri-batcher", "atri-batch") still running, of those made
    since `earlier` was taken (the test loop is shared: other tests' services run on it)."""
    return [
        t
        for t in asyncio.all_tasks() - earlier
        if t.get_name().startswith("atri-batch") and not t.done()
    ]


@pytest.mark.parametrize("engine_class", [StepEngine, OneBatchAtATime])
async def test_a_request_joins_a_running_batch_only_on_a_joining_engine(
    engine_class: type[OneBatchAtATime],
) -> None:
    engine = engine_class()
    async with started(engine, 4, 0.0, 8) as batcher:
        long = spawn(batcher, "long")
        await until(lambda: engine.batches == [["long"]])
        assert engine.batches == [["long"]]
        short = spawn(batcher, "short")
        engine.release["short"].set()
        if isinstance(engine, StepEngine):
            # Handed over and answered while the long reply still decodes.
            assert await answer(short) == "re: short"
            assert not long.done()
            assert engine.most_in_flight == 2
        else:
            await asyncio.sleep(0.05)
            assert engine.batches == [["long"]] and batcher.depth == 1
        engine.release["long"].set()
        assert [await answer(long), await answer(short)] == ["re: long", "re: short"]
        assert engine.batches == [["long"], ["short"]]


async def test_the_window_gathers_only_a_first_batch() -> None:
    engine = StepEngine()
    async with started(engine, 4, 0.2, 8) as batcher:
        first = spawn(batcher, "a")
        await asyncio.sleep(0.05)
        second = spawn(batcher, "b")
        await until(lambda: len(engine.batches) == 1)
        assert engine.batches == [["a", "b"]]  # the window let a first batch gather
        # With rows in flight a job goes at once: a window this long would stall the test.
        batcher.window = 60
        third = spawn(batcher, "c")
        engine.release["c"].set()
        assert await answer(third) == "re: c"
        assert engine.batches == [["a", "b"], ["c"]]
        engine.release["a"].set()
        engine.release["b"].set()
        assert [await answer(first), await answer(second)] == ["re: a", "re: b"]


async def test_no_more_than_max_batch_rows_are_in_flight_and_the_queue_stays_bounded() -> None:
    engine = StepEngine()
    async with started(engine, 2, 0.0, 2) as batcher:
        jobs = {"r0": spawn(batcher, "r0")}
        await until(lambda: engine.in_flight == 1)
        jobs["r1"] = spawn(batcher, "r1")
        await until(lambda: engine.in_flight == 2)
        jobs["r2"] = spawn(batcher, "r2")
        jobs["r3"] = spawn(batcher, "r3")
        await asyncio.sleep(0.05)
        # Two rows decode, two wait in the queue: the fifth is refused at once.
        assert engine.batches == [["r0"], ["r1"]]
        assert (batcher.rows_in_flight, batcher.depth) == (2, 2)
        with pytest.raises(Overloaded):
            await batcher.submit(msg("r4"))
        # One row done makes room for one more, which goes while r1 still decodes.
        engine.release["r0"].set()
        assert await answer(jobs["r0"]) == "re: r0"
        await until(lambda: len(engine.batches) == 3)
        assert engine.batches[2] == ["r2"]
        assert (batcher.rows_in_flight, batcher.depth) == (2, 1)
        assert not jobs["r1"].done()
        jobs["r5"] = spawn(batcher, "r5")
        for name in ["r1", "r2", "r3", "r5"]:
            engine.release[name].set()
        assert [await answer(j) for j in jobs.values()] == [f"re: {n}" for n in jobs]
        assert engine.most_in_flight == 2
        assert batcher.rows_in_flight == 0


async def test_a_background_job_waits_for_rows_in_flight_then_live_ones_join_it() -> None:
    engine = StepEngine()
    summary_gen = GenerationSettings(max_new_tokens=64)
    async with started(engine, 4, 0.0, 8) as batcher:
        a = spawn(batcher, "a")
        await until(lambda: engine.in_flight == 1)
        summary = asyncio.create_task(batcher.submit_low(msg("summary"), summary_gen))
        await asyncio.sleep(0.02)
        b = spawn(batcher, "b")  # live: joins a, the summary keeps waiting
        await until(lambda: len(engine.batches) == 2)
        assert engine.batches == [["a"], ["b"]] and not a.done()
        engine.release["a"].set()
        assert await answer(a) == "re: a"
        await asyncio.sleep(0.02)
        assert engine.batches == [["a"], ["b"]] and batcher.low_depth == 1
        engine.release["b"].set()
        assert await answer(b) == "re: b"
        await until(lambda: len(engine.batches) == 3)
        assert engine.batches[2] == ["summary"] and engine.gens[2] == summary_gen
        # Session 61: a reply asked for now joins it and is answered at its own end,
        # with the live settings, while the summary still decodes.
        c = spawn(batcher, "c")
        engine.release["c"].set()
        assert await answer(c) == "re: c"
        assert engine.batches == [["a"], ["b"], ["summary"], ["c"]]
        assert engine.gens[3] == GenerationSettings() and not summary.done()
        engine.release["summary"].set()
        assert await answer(summary) == "re: summary"


async def test_an_overdue_background_job_goes_at_once_beside_rows_in_flight() -> None:
    engine = StepEngine()
    summary_gen = GenerationSettings(max_new_tokens=64)
    async with started(engine, 4, 0.0, 8) as batcher:
        a = spawn(batcher, "a")
        await until(lambda: engine.in_flight == 1)
        summary = asyncio.create_task(batcher.submit_low(msg("summary"), summary_gen, True))
        await until(lambda: len(engine.batches) == 2)
        assert engine.batches == [["a"], ["summary"]] and not a.done()
        b = spawn(batcher, "b")
        engine.release["b"].set()
        assert await answer(b) == "re: b"  # beside the summary, not after it (session 61)
        assert engine.batches == [["a"], ["summary"], ["b"]] and not summary.done()
        engine.release["summary"].set()
        assert await answer(summary) == "re: summary"
        engine.release["a"].set()
        assert await answer(a) == "re: a"


async def test_a_failed_batch_fails_only_its_own_jobs(caplog: pytest.LogCaptureFixture) -> None:
    engine = StepEngine()
    observed = Observed()
    async with started(engine, 4, 0.0, 8, observed) as batcher:
        a = spawn(batcher, "a")
        await until(lambda: engine.in_flight == 1)
        failing = spawn(batcher, "fail")
        await until(lambda: engine.in_flight == 2)
        with caplog.at_level(logging.ERROR, logger="model.batching"):
            engine.release["fail"].set()
            with pytest.raises(RuntimeError, match="broke on"):
                await asyncio.wait_for(failing, 3)
            assert not a.done()
            later = spawn(batcher, "later")
            engine.release["later"].set()
            assert await answer(later) == "re: later"
            engine.release["a"].set()
            assert await answer(a) == "re: a"
        failures = [r for r in caplog.records if "generation failed" in r.getMessage()]
        assert len(failures) == 1
        # The metrics hook hears of each answered row (later's, then a's), and of the
        # rows in flight as each joined: a, then fail beside it, then later beside a.
        assert observed.generated == [len("later"), len("a")]
        assert observed.batches == [1, 2, 2]


async def test_a_caller_that_gave_up_is_not_handed_to_the_engine() -> None:
    engine = StepEngine()
    async with started(engine, 2, 0.0, 4) as batcher:
        a = spawn(batcher, "a")
        await until(lambda: engine.in_flight == 1)
        x = spawn(batcher, "x")
        await until(lambda: engine.in_flight == 2)
        gone = spawn(batcher, "gone")
        c = spawn(batcher, "c")
        await asyncio.sleep(0.02)
        gone.cancel()  # timed out or disconnected while no room was left
        engine.release["a"].set()
        engine.release["c"].set()
        assert [await answer(a), await answer(c)] == ["re: a", "re: c"]
        assert not x.done()  # c went while x still decodes
        engine.release["x"].set()
        assert await answer(x) == "re: x"
        assert engine.batches == [["a"], ["x"], ["c"]]


async def test_stop_ends_rows_in_flight_and_refuses_what_waits() -> None:
    earlier = asyncio.all_tasks()
    engine = StepEngine()
    batcher = Batcher(engine, GenerationSettings(), 2, 0.0, 4)
    batcher.start()
    a = spawn(batcher, "a")
    await until(lambda: engine.in_flight == 1)
    b = spawn(batcher, "b")
    await until(lambda: engine.in_flight == 2)
    waiting = spawn(batcher, "waiting")
    summary = asyncio.create_task(batcher.submit_low(msg("summary"), GenerationSettings()))
    await asyncio.sleep(0.02)
    await batcher.stop()
    for job in [a, b, waiting, summary]:
        with pytest.raises(Overloaded, match="worker stopped"):
            await asyncio.wait_for(job, 3)
    assert sorted(engine.cancelled) == ["a", "b"]
    assert engine.in_flight == 0 and batcher.rows_in_flight == 0
    assert batch_tasks_left(earlier) == []


async def test_each_row_of_a_batch_is_answered_and_frees_its_place_at_its_own_end() -> None:
    engine = StepEngine()
    async with started(engine, 2, 0.2, 4) as batcher:
        # Gathered by the window into one batch: a long reply and a short one.
        long = spawn(batcher, "long")
        short = spawn(batcher, "short")
        await until(lambda: engine.in_flight == 2)
        assert engine.batches == [["long", "short"]]
        waiting = spawn(batcher, "waiting")
        await asyncio.sleep(0.02)
        assert batcher.depth == 1  # no place while both rows decode
        engine.release["short"].set()
        engine.release["waiting"].set()
        # The short reply does not wait for the long one, and its place goes to the
        # request that waited, while the long reply still decodes.
        assert await answer(short) == "re: short"
        assert await answer(waiting) == "re: waiting"
        assert not long.done()
        assert engine.batches == [["long", "short"], ["waiting"]]
        engine.release["long"].set()
        assert await answer(long) == "re: long"
        assert batcher.rows_in_flight == 0


async def test_a_caller_that_gives_up_mid_reply_frees_its_row_in_the_engine() -> None:
    engine = StepEngine()
    async with started(engine, 2, 0.0, 4) as batcher:
        gone = spawn(batcher, "gone")
        stays = spawn(batcher, "stays")
        await until(lambda: engine.in_flight == 2)
        gone.cancel()  # the request's deadline passed, or the client went away
        await until(lambda: engine.cancelled == ["gone"])
        assert engine.cancelled == ["gone"]
        assert (engine.in_flight, batcher.rows_in_flight) == (1, 1)
        engine.release["stays"].set()
        assert await answer(stays) == "re: stays"

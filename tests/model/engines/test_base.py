"""EngineThread: the one thread that runs a local engine's model calls."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from model.engines.base import EngineThread


async def test_jobs_run_in_order_on_one_named_thread_without_blocking_the_loop() -> None:
    engine_thread = EngineThread("atri-test")
    done: list[tuple[int, str]] = []

    def job(n: int, seconds: float) -> int:
        time.sleep(seconds)
        done.append((n, threading.current_thread().name))
        return n * 10

    try:
        # The first job is the slowest: were there two threads, the others would finish first.
        jobs = [asyncio.ensure_future(engine_thread.run(job, n, 0.2 - n * 0.05)) for n in range(4)]
        loop_ticks = 0
        while not all(j.done() for j in jobs):
            loop_ticks += 1
            await asyncio.sleep(0.01)
        assert [j.result() for j in jobs] == [0, 10, 20, 30]
        assert [n for n, _ in done] == [0, 1, 2, 3]
        names = {name for _, name in done}
        assert len(names) == 1 and names.pop().startswith("atri-test")
        assert threading.current_thread().name not in {name for _, name in done}
        assert loop_ticks > 10  # the loop kept running while the jobs slept
    finally:
        await engine_thread.close()


async def test_an_exception_reaches_the_awaiting_caller_and_the_thread_goes_on() -> None:
    engine_thread = EngineThread("atri-test")

    def fail() -> None:
        raise ValueError("model broke")

    try:
        with pytest.raises(ValueError, match="model broke"):
            await engine_thread.run(fail)
        assert await engine_thread.run(sum, [1, 2]) == 3
    finally:
        await engine_thread.close()


async def test_close_waits_for_queued_jobs_then_ends_the_thread() -> None:
    engine_thread = EngineThread("atri-closing")
    finished: list[str] = []
    slow = asyncio.ensure_future(
        engine_thread.run(lambda: (time.sleep(0.2), finished.append("slow")))
    )
    await asyncio.sleep(0)  # let it be queued
    await engine_thread.close()
    assert finished == ["slow"] and slow.done()
    alive = [t for t in threading.enumerate() if t.name.startswith("atri-closing")]
    assert alive == []
    with pytest.raises(RuntimeError):
        await engine_thread.run(sum, [1])
    await engine_thread.close()  # a second close is harmless

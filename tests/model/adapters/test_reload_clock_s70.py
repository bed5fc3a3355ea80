"""The reload job's schedule when the machine's clock misbehaves: a POSIX `TZ` that
tzlocal cannot name (`CST-8`) stopped the worker at start; a wall clock stepped back
held the next look back by the whole step; a step forward stalled the event loop while
APScheduler listed every look it passed over. The job keeps to the monotonic clock.

The engine here is a stand-in with no versions to load: what runs is the real
`Reloader.start` and its schedule; each look is counted instead of reading a folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from atri.config import ReloadSettings
from model.adapters import reload_schedule
from model.adapters.reload import Reloader
from model.character.prompt import ChatMessages
from model.protocol import ReloadResult


class NoVersionsEngine:
    """An adapter engine that is never asked to load anything (the folder is empty)."""

    name = "stand-in"
    base_id = "base"
    config_hash = "hash"
    adapter_version = ""

    def accepts_config_hash(self, value: str) -> bool:
        return True

    async def load_adapter(self, path: Path, name: str) -> None:
        raise AssertionError("nothing to load")

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        raise AssertionError("nothing to test")

    async def activate(self, name: str) -> None:
        raise AssertionError("nothing to activate")

    async def unload_adapter(self, name: str) -> None:
        raise AssertionError("nothing to unload")


class CountedLooks(Reloader):
    def __init__(self, folder: Path, seconds: int) -> None:
        settings = ReloadSettings(enabled=True, interval_seconds=seconds)
        super().__init__(settings, folder, folder, NoVersionsEngine(), "", "")
        self.looks: list[float] = []

    async def check(self) -> ReloadResult | None:
        self.looks.append(time.monotonic())
        return None


class SteppedClock(dt.datetime):
    """`datetime.now` of a wall clock `step` seconds off the real one."""

    step = 0.0

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> SteppedClock:
        return cls.fromtimestamp(time.time() + cls.step, tz)


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> type[SteppedClock]:
    """The wall clock APScheduler and the schedule read, to step at will."""
    import apscheduler.schedulers.base as scheduler_base

    SteppedClock.step = 0.0
    monkeypatch.setattr(scheduler_base, "datetime", SteppedClock)
    monkeypatch.setattr(reload_schedule.dt, "datetime", SteppedClock)
    return SteppedClock


async def looks_within(job: CountedLooks, seconds: float) -> int:
    before = len(job.looks)
    await asyncio.sleep(seconds)
    return len(job.looks) - before


async def test_a_step_back_of_the_wall_clock_does_not_hold_the_looks_back(
    tmp_path: Path, stepped: type[SteppedClock]
) -> None:
    job = CountedLooks(tmp_path, seconds=1)
    assert await job.start()
    try:
        assert await looks_within(job, 2.5) >= 1
        stepped.step = -3600.0  # NTP corrects a clock an hour ahead
        # Within two intervals of the step the looks go on (an hour, before).
        assert await looks_within(job, 3.5) >= 1
    finally:
        await job.stop()


async def test_a_step_forward_runs_one_look_without_listing_the_missed_ones(
    tmp_path: Path, stepped: type[SteppedClock]
) -> None:
    job = CountedLooks(tmp_path, seconds=1)
    assert await job.start()
    try:
        await looks_within(job, 1.5)
        loop = asyncio.get_running_loop()
        stepped.step = 60 * 24 * 3600.0  # a clock two months behind, set right
        started = loop.time()
        while loop.time() - started < 2.5:  # the loop answers all along
            before = loop.time()
            await asyncio.sleep(0.05)
            assert loop.time() - before < 0.5, "the event loop stalled"
        assert 1 <= len(job.looks) - 1 <= 5
    finally:
        await job.stop()


def test_a_posix_time_zone_does_not_stop_the_job(tmp_path: Path) -> None:
    """`TZ=CST-8` is read well by glibc (logs show +0800); tzlocal, which APScheduler
    asked for the local zone, refused it and the worker did not start."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from tests.model.adapters.test_reload_clock_s70 import CountedLooks

        async def main() -> None:
            job = CountedLooks(Path({str(tmp_path)!r}), seconds=1)
            assert await job.start()
            await asyncio.sleep(1.6)
            await job.stop()
            print("looks", len(job.looks))

        asyncio.run(main())
        """
    )
    env = {**os.environ, "TZ": "CST-8"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).parents[3],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) >= 2  # the start's own look and a scheduled one

"""A flood of messages never holds back a read of what they touch: a read waits for the
writes in flight when it begins, not for those begun since (`WritesInFlight.read`)."""

from __future__ import annotations

import asyncio

from model.grouping import Touch, WritesInFlight

ROOM = ("room", "qq:chan:g1")


async def test_a_read_of_a_room_in_a_flood_of_lines_is_not_held_back() -> None:
    """Lines of a busy group keep being written, each one transaction, one always in
    flight: the prompt read of that room waited until none was, which never came."""
    inflight = WritesInFlight()
    stop = asyncio.Event()

    async def line() -> None:
        with inflight.touching(Touch(rooms=frozenset([ROOM[1]]))):
            await asyncio.sleep(0.02)

    async def flood() -> None:
        lines: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(line())
            lines.add(task)
            task.add_done_callback(lines.discard)
            await asyncio.sleep(0.005)  # a new line before the last is written
        await asyncio.gather(*lines)

    async def run() -> str:
        await asyncio.sleep(0.01)
        return "read"

    flooding = asyncio.create_task(flood())
    try:
        await asyncio.sleep(0.05)
        assert await asyncio.wait_for(inflight.read([ROOM], run), 2) == "read"
    finally:
        stop.set()
        await flooding


async def test_a_line_written_while_a_read_runs_does_not_run_it_again() -> None:
    """One transaction is seen whole or not at all: no second run for it. One begun
    before the read is waited for."""
    inflight = WritesInFlight()
    written = asyncio.Event()
    runs: list[bool] = []

    async def line() -> None:
        with inflight.touching(Touch(rooms=frozenset([ROOM[1]]))):
            await written.wait()

    async def run() -> int:
        runs.append(written.is_set())
        if len(runs) == 1:
            started.append(asyncio.create_task(line()))
            await asyncio.sleep(0)
        return len(runs)

    before = asyncio.create_task(line())
    await asyncio.sleep(0)
    started: list[asyncio.Task[None]] = []
    reading = asyncio.create_task(inflight.read([ROOM], run))
    await asyncio.sleep(0.01)
    assert runs == []  # waits for the line begun before it
    written.set()
    assert await reading == 1
    await asyncio.gather(before, *started)

"""Session 43 on prompt reads while a long write runs in the worker: they waited for the
whole write transaction on the shared connection (`OneTransaction.between`), so while
the reset or purge of a person with many conversations ran (0.5-0.7 s for 50k messages,
`bench/memory_reads.py`), every other user's prompt waited too. They now read the last
committed state on a second connection. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from model.memory import Memory
from model.room import RoomBounds

EXCHANGE = [("user", "1", "小红", "我的电话是 1234", ""), ("assistant", "", "", "记住了", "")]
# Far longer than a read takes: a read still waiting then waits for the write.
READ_SECONDS = 5.0


class HeldWrite:
    """Each row a write on the worker's connection changes in `table` waits (on SQLite's
    thread, inside the write's transaction) until `release()`: a write of many rows,
    caught half done."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _hold(self) -> int:
        self.entered.set()
        self.gate.wait(30)
        return 0

    async def install(self, memory: Memory, table: str, event: str) -> None:
        await memory._db.create_function("held_write", 0, self._hold)
        await memory._db.execute(
            f"CREATE TEMP TRIGGER held_{table} AFTER {event} ON {table}"
            " BEGIN SELECT held_write(); END"
        )

    async def until_half_done(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10), "the write never began"

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[Memory]:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        yield memory


async def filled(memory: Memory, scope: str) -> None:
    """Two exchanges, the first folded into a live summary."""
    await memory.append_many(scope, EXCHANGE, "m1")
    await memory.append_many(scope, EXCHANGE, "m2")
    first = (await memory.history(scope))[1]
    assert await memory.add_summary(scope, "她记得电话", first.id)


async def test_a_prompt_read_does_not_wait_for_a_reset_half_done(memory: Memory) -> None:
    """While a reset is between its first statement and its commit, another user's prompt
    read (conversation and room lines) is answered, and a read of the scope being reset
    finds it all before the reset: no half-applied state, and no wait for it."""
    await filled(memory, "qq:user:1")
    await filled(memory, "qq:user:2")
    await memory.room.add("qq:chan:g2", "qq", "2", "小明", "早", RoomBounds())
    held = HeldWrite()
    await held.install(memory, "messages", "UPDATE")
    resetting = asyncio.create_task(memory.reset("qq:user:1"))
    try:
        await held.until_half_done()
        other, lines, own = await asyncio.wait_for(
            asyncio.gather(
                memory.conversation("qq:user:2"),
                memory.room.recent("qq:chan:g2", 30, 3600),
                memory.conversation("qq:user:1"),
            ),
            READ_SECONDS,
        )
        assert not resetting.done()
    finally:
        held.release()
        archived = await resetting
    assert archived == 4
    assert len(other.messages) == 4 and other.summary is not None
    assert [line.content for line in lines] == ["早"]
    assert len(own.messages) == 4 and own.summary is not None  # all before the reset
    after = await memory.conversation("qq:user:1")
    assert (after.messages, after.summary) == ([], None)
    assert after.reset_mark > own.reset_mark


async def test_a_room_read_does_not_wait_for_a_room_write_half_done(memory: Memory) -> None:
    """A room keeps its newest `max_lines`: a line is stored and the oldest deleted in one
    transaction. A read of another room is answered meanwhile, and one of that room
    finds it within its bounds, as before the write."""
    bounds = RoomBounds(max_lines=2)
    for text in ("一", "二"):
        await memory.room.add("qq:chan:g1", "qq", "1", "小红", text, bounds)
    await memory.room.add("qq:chan:g2", "qq", "2", "小明", "早", bounds)
    held = HeldWrite()
    await held.install(memory, "room_lines", "INSERT")
    writing = asyncio.create_task(memory.room.add("qq:chan:g1", "qq", "1", "小红", "三", bounds))
    try:
        await held.until_half_done()
        other, same = await asyncio.wait_for(
            asyncio.gather(
                memory.room.recent("qq:chan:g2", 30, 3600),
                memory.room.recent("qq:chan:g1", 30, 3600),
            ),
            READ_SECONDS,
        )
    finally:
        held.release()
        await writing
    assert [line.content for line in other] == ["早"]
    assert [line.content for line in same] == ["一", "二"]
    after = await memory.room.recent("qq:chan:g1", 30, 3600)
    assert [line.content for line in after] == ["二", "三"]


async def test_reads_see_what_the_worker_just_committed(memory: Memory) -> None:
    """The reads go to a second connection: an exchange, a summary or a reset is there
    as soon as the call that wrote it returns."""
    await filled(memory, "qq:user:1")
    found = await memory.conversation("qq:user:1")
    assert [m.content for m in found.messages][-1] == "记住了"
    assert found.summary is not None and found.summary.text == "她记得电话"
    assert await memory.scopes_holding("qq", "m2") == ["qq:user:1"]
    await memory.reset("qq:user:1")
    assert (await memory.conversation("qq:user:1")).messages == []
    assert await memory.summary("qq:user:1") is None


async def test_an_in_memory_database_still_reads_between_writes(tmp_path: Path) -> None:
    """`:memory:` has no second connection: its reads wait for a write half done, as
    before, and see it whole."""
    async with await Memory.open(":memory:") as memory:
        await filled(memory, "qq:user:1")
        held = HeldWrite()
        await held.install(memory, "messages", "UPDATE")
        resetting = asyncio.create_task(memory.reset("qq:user:1"))
        await held.until_half_done()
        reading = asyncio.create_task(memory.conversation("qq:user:1"))
        await asyncio.sleep(0.2)
        assert not reading.done()  # waits for the reset: SQLite would show it half done
        held.release()
        await resetting
        found = await reading
        assert (found.messages, found.summary) == ([], None)

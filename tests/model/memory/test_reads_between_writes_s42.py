"""Session 42 on reads of the worker's one SQLite connection while a write on it is half
done: SQLite shows a connection its own uncommitted statements, whichever task ran
them, so a read that lands between a reset's statements would see a state no commit
ever made. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from model.memory import Memory
from model.room import RoomBounds

EXCHANGE = [("user", "1", "小红", "我的电话是 1234", ""), ("assistant", "", "", "记住了", "")]
T = TypeVar("T")
# Enough event-loop turns for a read to land after each statement of a write.
TURNS = 12


async def filled(memory: Memory, scope: str) -> None:
    """Two exchanges, the first folded into a live summary."""
    await memory.append_many(scope, EXCHANGE, "m1")
    await memory.append_many(scope, EXCHANGE, "m2")
    first = (await memory.history(scope))[1]
    assert await memory.add_summary(scope, "她记得电话", first.id)


async def reads_during(write: Coroutine[Any, Any, Any], read: Awaitable[T], turns: int) -> T:
    """`read` started `turns` event-loop turns after `write` began; what it found."""
    writing = asyncio.create_task(write)
    for _ in range(turns):
        await asyncio.sleep(0)
    found = await read
    await writing
    return found


async def test_a_conversation_read_during_a_reset_is_all_before_or_all_after(
    tmp_path: Path,
) -> None:
    """A prompt read landing inside a reset found its messages archived beside the
    summary it had not archived yet, under the reset mark from before it: her reply
    drew on the summary of a context that had ended."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        for turns in range(TURNS):
            scope = f"qq:user:{turns}"
            await filled(memory, scope)
            before = (await memory.conversation(scope)).reset_mark
            found = await reads_during(memory.reset(scope), memory.conversation(scope), turns)
            seen = (len(found.messages), found.summary is not None, found.reset_mark > before)
            assert seen in [(4, True, False), (0, False, True)], turns


async def test_room_lines_read_during_a_write_are_within_the_room_s_bounds(
    tmp_path: Path,
) -> None:
    """A room keeps its newest `max_lines` lines: a line is stored and the oldest one
    deleted in one transaction. A prompt's read of the room between the two found one
    line more than the room ever holds."""
    bounds = RoomBounds(max_lines=2)
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        for turns in range(TURNS):
            room = f"qq:chan:g{turns}"
            for text in ("一", "二"):
                await memory.room.add(room, "qq", "1", "小红", text, bounds)
            found = await reads_during(
                memory.room.add(room, "qq", "1", "小红", "三", bounds),
                memory.room.recent(room, 50, 3600),
                turns,
            )
            assert [line.content for line in found] in [["一", "二"], ["二", "三"]], turns

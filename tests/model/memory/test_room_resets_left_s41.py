"""Session 41 (items left over) on the reset records room lines are checked against
(`room.RESET_LINES`): a record outlives no line it must stop, and a reset of room lines
is one transaction that no room write on the same connection splits. Real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from model.memory import Memory
from model.room import RESET_RECORD_SECONDS, RoomBounds

HOUR = 3600.0


async def test_a_line_heard_after_its_reset_record_went_is_not_kept(tmp_path: Path) -> None:
    """Reset records go after RESET_RECORD_SECONDS (24 hours), but with `[room]
    max_age_hours` above that a line said before a purge, and heard after its record
    went (a bot catching up after a long outage), was stored and shown again."""
    bounds = RoomBounds(max_age_seconds=72 * HOUR)
    room = "qq:chan:g1"
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        said = time.time() - 30 * HOUR
        await memory.room.delete_room(room)
        # The purge was 25 hours ago, after the line was said; its record is then older
        # than RESET_RECORD_SECONDS and goes at the next reset of anything.
        await memory._db.execute("UPDATE resets SET at = at - 25 * 3600")
        await memory._db.commit()
        await memory.reset("qq:user:2")
        await memory.room.add(room, "qq", "1", "小明", "我的电话是 13800000000", bounds, said)
        assert await memory.room.all_lines(room) == []
        # A line said within the record lifetime, late or not, is kept.
        await memory.room.add(room, "qq", "2", "小红", "刚才", bounds, time.time() - 60)
        within = time.time() - RESET_RECORD_SECONDS + HOUR
        await memory.room.add(room, "qq", "3", "小刚", "昨天", bounds, within)
        shown = await memory.room.recent(room, 30, bounds.max_age_seconds)
        assert [line.content for line in shown] == ["昨天", "刚才"]


async def busy_thread(memory: Memory) -> None:
    """A read that keeps the connection's thread busy a moment, so that the calls made
    meanwhile queue up behind it in the order they were made."""
    await memory._db.execute_fetchall(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)"
        " SELECT COUNT(*) FROM n"
    )


async def test_a_room_write_that_fails_undoes_no_reset_said_meanwhile(tmp_path: Path) -> None:
    """Room writes and a reset of room lines share the memory's one connection, and so
    one transaction: a write that failed (the disk full) while a reset was between its
    record and its commit rolled the reset's record (or its archiving) back with its
    own, and the reset said it was done. A line said before it came back later."""
    bounds = RoomBounds(max_chars=2_000_000)
    room = "qq:chan:g1"
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory.room.add(room, "qq", "1", "小明", "我的电话是 13800000000", bounds)
        said = time.time() - 1
        # The disk is full: no page more for the file (as `fill_the_disk` does).
        (pages,) = next(iter(await memory._db.execute_fetchall("PRAGMA page_count")))
        await memory._db.execute(f"PRAGMA max_page_count = {pages}")
        busy = asyncio.create_task(busy_thread(memory))
        await asyncio.sleep(0)
        reset = asyncio.create_task(memory.room.archive_room(room))
        await asyncio.sleep(0)
        wall = asyncio.create_task(memory.room.add(room, "qq", "2", "小红", "长" * 10**6, bounds))
        await busy
        assert await reset == 1
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await wall
        await memory._db.execute("PRAGMA max_page_count = 1073741823")
        assert await memory.room.recent(room, 30, bounds.max_age_seconds) == []
        await memory.room.add(room, "qq", "1", "小明", "我的电话是 13800000000", bounds, said)
        assert await memory.room.recent(room, 30, bounds.max_age_seconds) == []


async def test_a_room_write_that_fails_undoes_no_conversation_reset(tmp_path: Path) -> None:
    """The same for a reset of a conversation: the failed room write's rollback took
    back its archiving, and her earlier exchange was live again after `reset` said
    how many it had archived."""
    bounds = RoomBounds(max_chars=2_000_000)
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        exchange = [
            ("user", "1", "", "我的电话是 13800000000", ""),
            ("assistant", "", "", "好", ""),
        ]
        await memory.append_many("qq:user:1", exchange)
        (pages,) = next(iter(await memory._db.execute_fetchall("PRAGMA page_count")))
        await memory._db.execute(f"PRAGMA max_page_count = {pages}")
        busy = asyncio.create_task(busy_thread(memory))
        await asyncio.sleep(0)
        reset = asyncio.create_task(memory.reset("qq:user:1"))
        await asyncio.sleep(0)
        wall = asyncio.create_task(
            memory.room.add("qq:chan:g1", "qq", "2", "小红", "长" * 10**6, bounds)
        )
        await busy
        assert await reset == 2
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await wall
        await memory._db.execute("PRAGMA max_page_count = 1073741823")
        assert await memory.history("qq:user:1") == []

"""Session 41 (items left over) on the reset records room lines are checked against
(`room.RESET_LINES`): a record outlives no line it must stop, and a reset of room lines
is one transaction that no room write on the same connection splits. Real SQLite files."""

from __future__ import annotations

import time
from pathlib import Path

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

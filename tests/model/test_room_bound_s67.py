"""Session 67: keeping a room within `max_lines_per_channel` deleted `id NOT IN (the
newest max_lines)`, a list built at every heard line: 152 ms a line at 100,000, inside the
write that replies wait on too. It now deletes from the newest line past the bound,
found on the room's (said_at, id) index; the lines kept are the same, ties included."""

from __future__ import annotations

import time
from pathlib import Path

from model.memory import Memory
from model.room import RoomBounds


async def test_the_newest_lines_are_kept_by_platform_time_then_arrival(tmp_path: Path) -> None:
    bounds = RoomBounds(max_lines=4)
    now = time.time()
    said = [("a", now - 50), ("b", now - 10), ("c", now - 50), ("d", now - 10), ("e", now - 30)]
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        for text, at in said:
            await memory.room.add("qq:chan:g", "qq", "1", "Ann", text, bounds, said_at=at)
        await memory.room.add("qq:chan:other", "qq", "1", "Ann", "elsewhere", bounds)
        kept = [line.content for line in await memory.room.all_lines("qq:chan:g")]
        # By said_at, then by arrival within one time: the cut falls between "a" and "c",
        # said at one time; "c", heard after it, is kept.
        assert kept == ["c", "e", "b", "d"]
        assert [x.content for x in await memory.room.all_lines("qq:chan:other")] == ["elsewhere"]
        await memory.room.add("qq:chan:g", "qq", "1", "Ann", "late", bounds, said_at=now - 40)
        assert [x.content for x in await memory.room.all_lines("qq:chan:g")] == [
            *("late", "e", "b", "d")
        ]

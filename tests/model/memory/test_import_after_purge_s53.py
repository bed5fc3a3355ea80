"""A backup taken before a purge does not bring the purged back when it is restored:
the purge is kept for good (its key and time, no text) and the import leaves out what it
deleted, unless asked to restore it."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from unittest import mock

from model.memory import Memory, parse_export
from model.room import RESET_RECORD_SECONDS, RoomBounds


async def backup_of(memory: Memory) -> object:
    return parse_export(json.loads(json.dumps(await memory.backup())), "backup.json")


async def fill(memory: Memory) -> None:
    await memory.append_many(
        "qq:user:42",
        [("user", "42", "A", "my phone is 555", ""), ("assistant", "", "", "ok", "")],
    )
    await memory.append_many("qq:user:7", [("user", "7", "B", "hello", "")])
    await memory.append_many(
        "qq:chan:9", [("user", "42", "A", "in the group", ""), ("assistant", "", "", "yes", "")]
    )
    await memory.append_many("qq:chan:9", [("user", "7", "B", "me too", "")])
    await memory.room.add("qq:chan:9", "qq", "42", "A", "a line of theirs", RoomBounds())
    await memory.room.add("qq:chan:9", "qq", "7", "B", "a line of B", RoomBounds())


async def test_restoring_a_backup_after_a_purge_leaves_the_purged_out(tmp_path: Path) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await fill(memory)
        backup = await backup_of(memory)
        await memory.purge("qq:user:42")

    later = time.time() + RESET_RECORD_SECONDS + 3600  # the reset record is long gone
    with mock.patch("time.time", return_value=later):
        async with await Memory.open(path) as memory:
            await memory.reset("qq:user:7")  # a reset a day later deletes old reset records
            result = await memory.import_export(backup)  # type: ignore[arg-type]
            assert await memory.all_messages("qq:user:42") == []
            group = [m.content for m in await memory.all_messages("qq:chan:9")]
            lines = [line.content for line in await memory.room.all_lines("qq:chan:9")]

    assert group == ["me too"]
    assert lines == ["a line of B"]
    counts = result.counts
    assert (counts.purged_messages, counts.purged_room_lines) == (4, 1)
    assert counts.purged_keys == ["qq:user:42"]
    with sqlite3.connect(path) as db:  # the record holds no text
        assert db.execute("SELECT scope FROM purges").fetchall() == [("qq:user:42",)]


async def test_include_purged_restores_them_and_a_later_conversation_is_kept(
    tmp_path: Path,
) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await fill(memory)
        before = await backup_of(memory)
        await memory.purge("qq:chan:9")
        await memory.append_many("qq:chan:9", [("user", "7", "B", "after the purge", "")])
        after = await backup_of(memory)

        again = await memory.import_export(after)  # type: ignore[arg-type]
        assert again.counts.purged_messages == 0  # said after the purge: kept

    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.import_export(before, include_purged=True)  # type: ignore[arg-type]
        texts = [m.content for m in await memory.all_messages("qq:chan:9")]
    assert "in the group" in texts and "after the purge" in texts

"""Purges kept for good against an import, as an admin meets them: thousands of purges
and a large backup (looked up by key, not every purge tried on every line), a person who
talks again after their purge, a reset that is no purge."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from model.memory import Memory, parse_export
from model.room import RoomBounds

SAID = 1_000_000.0  # the backup's lines and messages were said then; the purges later


def backup_with(room_lines: list[dict[str, object]], scopes: list[dict[str, object]]) -> object:
    data = {"format": "atri-memory", "version": 7, "scopes": scopes, "room_lines": room_lines}
    return parse_export(data, "backup.json")


def line(room: str, user_id: str, n: int) -> dict[str, object]:
    return {"room": room, "platform": "qq", "user_id": user_id, "content": f"line {n}",
            "created_at": SAID + n / 1000, "said_at": SAID + n / 1000}  # fmt: skip


def message(user_id: str, text: str, request_id: str) -> dict[str, object]:
    role = "user" if user_id else "assistant"
    return {"role": role, "user_id": user_id, "content": text, "created_at": SAID,
            "request_id": request_id}  # fmt: skip


async def test_thousands_of_purges_and_a_large_backup_import_in_a_moment(tmp_path: Path) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path):
        pass
    with sqlite3.connect(path) as db:  # 3,000 purges kept over the years, after SAID
        keys = [f"qq:user:gone{i}" for i in range(1500)] + [f"qq:chan:old{i}" for i in range(1500)]
        keys += ["qq:user:u1", "qq:chan:r2", "qq:chan:r3:user:u4"]
        db.executemany("INSERT INTO purges VALUES (?, ?)", [(k, SAID + 10) for k in keys])
    lines = [line(f"qq:chan:r{i % 50}", f"u{i % 40}", i) for i in range(10_000)]
    shared = [message(f"u{j % 40}", f"m{j}", f"q{j}") for j in range(2_000)]
    scopes = [{"scope": "qq:chan:r3", "messages": shared}]
    scopes += [
        {"scope": f"qq:user:u{j}", "messages": [message(f"u{j}", "hi", "")]} for j in range(9)
    ]
    backup = backup_with(lines, scopes)

    async with await Memory.open(path) as memory:
        started = time.perf_counter()
        result = await memory.import_export(backup)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        kept_r3 = {m.user_id for m in await memory.all_messages("qq:chan:r3")}

    # Trying each of the 3,000 purges on each of the 10,000 lines took 20 s and more.
    assert took < 6, took
    counts = result.counts
    # u1's lines everywhere, r2's room, u4's everywhere (a purge of them in one channel
    # takes their lines in every room, as the purge did).
    gone = [x for x in lines if x["user_id"] in ("u1", "u4") or x["room"] == "qq:chan:r2"]
    assert counts.purged_room_lines == len(gone)
    assert counts.purged_messages == 50 + 50 + 1  # u1's and u4's exchanges in r3; u1's own
    assert "u1" not in kept_r3 and "u4" not in kept_r3 and "u5" in kept_r3
    assert counts.purged_keys == ["qq:chan:r2", "qq:chan:r3:user:u4", "qq:user:u1"]


async def test_a_person_purged_who_talks_again_keeps_what_they_said_since(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.append_many("qq:user:42", [("user", "42", "A", "my phone is 555", "")])
        await memory.room.add("qq:chan:9", "qq", "42", "A", "old line", RoomBounds())
        before = await memory.backup()
        await memory.purge("qq:user:42")
        await memory.append_many("qq:user:42", [("user", "42", "A", "hello again", "")])
        await memory.room.add("qq:chan:9", "qq", "42", "A", "new line", RoomBounds())
        after = await memory.backup()
        await memory.reset("qq:user:42")  # a reset is no purge: a restore brings it back

        for backup in (before, after):
            await memory.import_export(parse_export(backup, "b.json"))  # type: ignore[arg-type]
        texts = [m.content for m in await memory.all_messages("qq:user:42")]
        lines = [x.content for x in await memory.room.all_lines("qq:chan:9")]
    assert texts == ["hello again"]
    assert lines == ["new line"]

    async with await Memory.open(tmp_path / "fresh.sqlite3") as fresh:
        await fresh.import_export(parse_export(after, "b.json"))  # type: ignore[arg-type]
        assert [m.content for m in await fresh.all_messages("qq:user:42")] == ["hello again"]


async def test_a_backup_carries_its_purges_to_a_fresh_machine(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "old.sqlite3") as memory:
        await memory.append_many("qq:user:42", [("user", "42", "A", "my phone is 555", "")])
        await memory.room.add("qq:chan:9", "qq", "42", "A", "old line", RoomBounds())
        before = await memory.backup()
        await memory.purge("qq:user:42")
        await memory.append_many("qq:user:42", [("user", "42", "A", "hello again", "")])
        after = await memory.backup()
    assert [p["scope"] for p in after["purges"]] == ["qq:user:42"]  # a key and a time only

    async with await Memory.open(tmp_path / "fresh.sqlite3") as fresh:
        await fresh.import_export(parse_export(after, "after.json"))  # type: ignore[arg-type]
        result = await fresh.import_export(parse_export(before, "before.json"))  # type: ignore[arg-type]
        texts = [m.content for m in await fresh.all_messages("qq:user:42")]
        lines = [x.content for x in await fresh.room.all_lines("qq:chan:9")]
    assert texts == ["hello again"] and lines == []
    assert result.counts.purged_keys == ["qq:user:42"]

"""`[memory] delete_after_days` and `atri memory prune`: messages and archived summaries
older than that are deleted for good (the database grew for ever), a conversation's
live summary stays, and the deleted text leaves the file and its -wal."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from atri.config import Settings
from model import room as room_module
from model.memory.store import Memory
from model.protocol import ChatRequest
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config

SECRET = "SECRET-PHONE-555-0199"
DAY = 86400.0


def on_disk(memory_file: Path) -> bytes:
    """The database file and its -wal as a copy or a backup of the folder would take them."""
    wal = memory_file.with_name(memory_file.name + "-wal")
    return memory_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def age(path: Path, days: float, where: str = "1", table: str = "messages") -> None:
    """Move rows of `table` matching `where` `days` into the past, as another program
    (the test) writing beside the worker."""
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {table} SET created_at = created_at - ? WHERE {where}", (days * DAY,))


def exchange(n: int, text: str = "") -> list[tuple[str, str, str, str, str]]:
    return [("user", "1", "Aya", text or f"hello {n}", ""), ("assistant", "", "", f"hi {n}", "")]


async def fill(memory: Memory) -> dict[str, int]:
    """Scope A: old exchanges (one holding SECRET) under a live summary, then a recent
    one; B: old exchanges and their summary, archived by a reset; C: recent only."""
    await memory.append_many("qq:user:1", exchange(0, f"my phone is {SECRET}"), "a0")
    for n in range(1, 4):
        await memory.append_many("qq:user:1", exchange(n), f"a{n}")
    old_a = [m.id for m in await memory.all_messages("qq:user:1")]
    assert await memory.add_summary("qq:user:1", "Aya has a phone.", old_a[-1])
    await memory.append_many("qq:user:2", exchange(9, f"B {SECRET}"), "b0")
    b_ids = [m.id for m in await memory.all_messages("qq:user:2")]
    assert await memory.add_summary("qq:user:2", f"B said {SECRET}", b_ids[-1])
    await memory.reset("qq:user:2")
    return {"anchor": old_a[-1], "last_old": max(b_ids)}


async def test_old_messages_and_archived_summaries_go_the_live_summary_stays(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        ids = await fill(memory)
        age(memory.path, 40, f"id <= {ids['last_old']}")
        age(memory.path, 40, "archived = 1", table="summaries")
        await memory.append_many("qq:user:1", exchange(5, "recent in A"), "a5")
        await memory.append_many("qq:user:3", exchange(6, "recent in C"), "c0")
        assert SECRET.encode() in on_disk(path)

        deleted = await memory.delete_older(time.time() - 30 * DAY)
        assert await memory.settle_deletions()

        # 7 in A (all but its summary's mark) and the 2 archived in B; B's summary.
        assert (deleted.messages, deleted.summaries) == (9, 1)
        a = await memory.all_messages("qq:user:1")
        assert [m.content for m in a] == ["", "recent in A", "hi 5"]
        assert a[0].id == ids["anchor"]  # the live summary's mark, its text emptied
        summary = await memory.summary("qq:user:1")
        assert summary is not None and summary.text == "Aya has a phone."
        assert await memory.all_messages("qq:user:2") == []
        assert await memory.all_summaries("qq:user:2") == []
        assert [m.content for m in await memory.all_messages("qq:user:3")] == [
            "recent in C",
            "hi 6",
        ]
        # What the summary covered, and the recent turns after it, are what she is shown.
        found = await memory.conversation("qq:user:1", 40)
        assert [m.content for m in found.messages] == ["recent in A", "hi 5"]
    assert SECRET.encode() not in on_disk(path)


async def test_nothing_old_enough_deletes_nothing(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await fill(memory)
        deleted = await memory.delete_older(time.time() - 30 * DAY)
        assert not deleted
        assert len(await memory.all_messages("qq:user:1")) == 8


async def test_a_reply_standing_on_the_summary_alone_is_still_stored(
    echo_settings: Settings,
) -> None:
    """Every message under the live summary deleted: her next exchange is stored (a
    reply from the summary alone checks that a message up to its end is live)."""
    async with await ChatService.open(echo_settings) as service:
        ids = await fill(service.memory)
        age(service.memory.path, 40)
        await service.memory.delete_older(time.time() - 30 * DAY)
        assert (
            await service.chat(ChatRequest(platform="qq", user_id="1", text="back"))
        ).status == "ok"
        kept = await service.memory.all_messages("qq:user:1")
        assert "back" in [m.content for m in kept]  # dropped as if a reset had ended it
        assert (kept[0].id, kept[0].content) == (ids["anchor"], "")


async def test_the_workers_sweep_deletes_them_and_says_so_once(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    echo_settings.memory.delete_after_days = 30
    monkeypatch.setattr(room_module, "SWEEP_INTERVAL_SECONDS", 0.05)
    path = Path(echo_settings.memory.path)
    caplog.set_level(logging.INFO, logger="model.service")
    async with await ChatService.open(echo_settings) as service:
        await fill(service.memory)
        await service.memory.append_many("qq:user:3", exchange(6, "recent in C"), "c0")
        age(path, 40, "scope != 'qq:user:3'")
        age(path, 40, "archived = 1", table="summaries")
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not await service.memory.all_messages("qq:user:2"):
                break
        await asyncio.sleep(0.3)  # more sweeps, which find nothing to delete
        assert len(await service.memory.all_messages("qq:user:3")) == 2
        assert await service.memory.summary("qq:user:1") is not None
        assert SECRET.encode() not in on_disk(path)
    said = [r.getMessage() for r in caplog.records if "delete_after_days" in r.getMessage()]
    assert said == [
        "memory: deleted 9 messages and 1 archived summaries older than 30 days"
        " ([memory] delete_after_days)"
    ]


async def test_by_default_nothing_is_deleted(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert echo_settings.memory.delete_after_days == 0
    monkeypatch.setattr(room_module, "SWEEP_INTERVAL_SECONDS", 0.02)
    async with await ChatService.open(echo_settings) as service:
        await fill(service.memory)
        age(Path(echo_settings.memory.path), 4000)
        await asyncio.sleep(0.2)
        assert len(await service.memory.all_messages("qq:user:2")) == 2


def test_atri_memory_prune_beside_a_running_worker(tmp_path: Path) -> None:
    async def filled(memory: Memory) -> None:
        await fill(memory)
        await memory.append_many("qq:user:3", exchange(6, "recent in C"), "c0")

    config = memory_config(tmp_path, filled)
    path = tmp_path / "mem.sqlite3"
    age(path, 40, "scope != 'qq:user:3'")
    age(path, 40, "archived = 1", table="summaries")
    worker = sqlite3.connect(path)  # the running worker's connection, holding the file
    try:
        worker.execute("SELECT count(*) FROM messages").fetchone()
        code, out = atri(config, "memory", "prune", "--older-than", "30", "--yes")
        assert code == 0, out
        assert "Pruned: 9 messages and 1 summary older than 30 days deleted" in out
        assert SECRET.encode() not in on_disk(path)
        left = worker.execute("SELECT scope, content FROM messages ORDER BY id").fetchall()
        assert left == [("qq:user:1", ""), ("qq:user:3", "recent in C"), ("qq:user:3", "hi 6")]
    finally:
        worker.close()


def test_atri_memory_prune_asks_first(tmp_path: Path) -> None:
    async def filled(memory: Memory) -> None:
        await fill(memory)

    config = memory_config(tmp_path, filled)
    age(tmp_path / "mem.sqlite3", 40)
    code, out = atri(config, "memory", "prune", "--older-than", "30")
    assert code != 0 and "Nothing deleted" in out
    with sqlite3.connect(tmp_path / "mem.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (10,)

"""Session 47: a purge or reset made of several writes (room lines, the person's own
conversations, their exchanges in conversations channels share) committed each one on
its own. Another connection, as `atri memory export` or a worker beside `atri memory
purge` has, could read between them: room lines gone beside the messages still there.
And one that failed half-way (a full disk) left its first writes done, though a command
that failed is to change nothing. They are one transaction now (`Memory.changing`).

Each test holds or breaks the write inside its transaction with a trigger on the
writing connection, so what another connection finds meanwhile does not depend on
timing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from model.memory import Memory
from model.protocol import MemoryUnavailable, ScopeRef
from model.room import RoomBounds
from model.service import ChatService
from tests.model.memory.test_reads_beside_writes_s44 import (
    DAY,
    READ_SECONDS,
    HeldWrite,
    heavy_person,
    texts,
)


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[Memory]:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        yield memory


async def stored(path: Path) -> dict[str, Any]:
    """What a read-only connection of its own (`atri memory export` with no scope) finds."""
    async with await Memory.open(path, read_only=True) as other:
        return await other.backup()


async def fill_disk_at_messages(memory: Memory, write: str) -> None:
    """The worker's next change of a message (a purge's delete, a reset's archiving)
    fails as on a full disk, inside its transaction."""
    event = "DELETE" if write == "purge" else "UPDATE"
    await memory._db.execute(
        f"CREATE TEMP TRIGGER full_disk AFTER {event} ON messages"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )


def held_texts(backup: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(every message's text, every room line's text), sorted."""
    messages = sorted(m["content"] for s in backup["scopes"] for m in s["messages"])
    lines = sorted(line["content"] for line in backup["room_lines"])
    return messages, lines


async def test_an_export_during_a_purge_finds_all_of_it_or_none(memory: Memory) -> None:
    """Held while it deletes person 9's messages: their room lines were committed gone
    already, their DM and phone number still there, in what another connection read."""
    await heavy_person(memory)
    before = held_texts(await stored(memory.path))
    held = HeldWrite()
    await held.install(memory, "messages", "DELETE")
    purging = asyncio.create_task(memory.purge("qq:user:9"))
    try:
        await held.until_half_done()
        during = held_texts(await asyncio.wait_for(stored(memory.path), READ_SECONDS))
    finally:
        held.release()
        assert await purging == (6, 2)  # their DM, theirs in g1, theirs in g2's
    assert during == before
    messages, lines = held_texts(await stored(memory.path))
    assert "九在qq:chan:g1" not in lines and "我的电话是 1234" not in messages
    assert lines == ["二在群一"]


async def test_the_worker_reads_all_of_a_purge_from_another_process_or_none(
    memory: Memory,
) -> None:
    """`atri memory purge qq:user:9` beside a running worker (here: a second `Memory` on
    the file, another connection as another process has). The worker's prompt reads, on
    its own reader, found room g2 without 9's line beside g2's conversation still
    holding their phone number. Now both are as before the purge until it commits."""
    await heavy_person(memory)
    async with await Memory.open(memory.path) as cli:
        held = HeldWrite()
        await held.install(cli, "messages", "DELETE")
        purging = asyncio.create_task(cli.purge("qq:user:9"))
        try:
            await held.until_half_done()
            lines = await memory.room.recent("qq:chan:g2", 30, DAY)
            shared = await memory.conversation("qq:chan:g2")
        finally:
            held.release()
            await purging
    assert [line.content for line in lines] == ["九在qq:chan:g2"]
    assert "我的电话是 1234" in texts(shared)
    assert await memory.room.recent("qq:chan:g2", 30, DAY) == []
    assert texts(await memory.conversation("qq:chan:g2")) == ["早", "回早"]


@pytest.mark.parametrize("write", ["purge", "reset"])
async def test_a_purge_or_reset_that_fails_half_way_changes_nothing(
    memory: Memory, write: str
) -> None:
    """The disk fills while it changes person 9's messages (a trigger raises there): the
    room lines it had deleted (or archived) before stay deleted, though a command that
    failed changes nothing. Now all of it is undone."""
    await heavy_person(memory)
    before = await stored(memory.path)
    await fill_disk_at_messages(memory, write)
    change = memory.purge if write == "purge" else memory.reset_with_room
    with pytest.raises(sqlite3.Error):
        await change("qq:user:9")
    await memory._db.execute("DROP TRIGGER full_disk")
    assert await stored(memory.path) == before
    assert [line.content for line in await memory.room.recent("qq:chan:g1", 30, DAY)] == [
        "九在qq:chan:g1",
        "二在群一",
    ]
    # The connection is usable again: the next write is not part of a half-done one.
    assert await change("qq:user:9") == ((6, 2) if write == "purge" else (4, 2))


@pytest.mark.parametrize("write", ["purge", "reset"])
async def test_a_channel_s_purge_or_reset_that_fails_half_way_changes_nothing(
    echo_settings: Settings, write: str
) -> None:
    """An admin's purge (or reset) of group g1 under `[memory] scope = "user_in_channel"`:
    its room lines, then its members' conversations. The disk fills at the second: the
    room lines had gone for good. Now the admin hears her memory is unavailable, and
    nothing changed."""
    echo_settings.memory.scope = "user_in_channel"
    async with await ChatService.open(echo_settings) as service:
        memory = service.memory
        await memory.append_many("qq:chan:g1:user:2", [("user", "2", "", "你好", "")], "g1-2")
        await memory.room.add("qq:chan:g1", "qq", "2", "二", "二在群一", RoomBounds())
        before = await stored(memory.path)
        await fill_disk_at_messages(memory, write)
        change = service.purge if write == "purge" else service.reset
        with pytest.raises(MemoryUnavailable):
            await change(ScopeRef(platform="qq", channel_id="g1"))
        assert await stored(memory.path) == before

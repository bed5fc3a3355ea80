"""Session 44 on prompt reads while a long write runs in the worker. They waited for the
whole of every write in flight (`OneTransaction.between`): while the reset or purge of a
person with many messages ran, every other user's prompt waited for it. Session 43 read
the last commit on a second connection instead, which showed a prompt a message whose
delete was on its way, and a purge half done. Reads now wait for the writes in flight
that touch what they read (`WritesInFlight`), and only those.

Each test holds a write inside its transaction with a trigger that waits on an event
(`HeldWrite`), so what a read finds meanwhile does not depend on timing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atri.config import Settings
from model.memory import Memory
from model.protocol import ScopeRef
from model.room import RoomBounds
from model.service import ChatService

# Far longer than a read takes: a read still waiting then waits for the held write.
READ_SECONDS = 5.0
DAY = 24 * 3600.0


class HeldWrite:
    """The first row a write on the worker's connection changes in `table` waits (on
    SQLite's thread, inside the write's transaction) until `release()`."""

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


def exchange(user_id: str, text: str) -> list[tuple[str, str, str, str, str]]:
    return [("user", user_id, "", text, ""), ("assistant", "", "", f"回{text}", "")]


async def heavy_person(memory: Memory) -> None:
    """Person 9 of qq: their DM, their own conversation in group g1, an exchange in
    group g2's shared conversation, and a line in each of both rooms; person 2 has a DM,
    a line in g1 and an exchange in g2's conversation too."""
    await memory.append_many("qq:user:9", exchange("9", "私聊"), "d9")
    await memory.append_many("qq:chan:g1:user:9", exchange("9", "群一"), "g1-9")
    await memory.append_many("qq:chan:g2", exchange("9", "我的电话是 1234"), "g2-9")
    await memory.append_many("qq:chan:g2", exchange("2", "早"), "g2-2")
    await memory.append_many("qq:user:2", exchange("2", "你好"), "d2")
    for room in ("qq:chan:g1", "qq:chan:g2"):
        await memory.room.add(room, "qq", "9", "九", f"九在{room}", RoomBounds())
    await memory.room.add("qq:chan:g1", "qq", "2", "二", "二在群一", RoomBounds())


def texts(found: object) -> list[str]:
    return [m.content for m in found.messages]  # type: ignore[attr-defined]


async def test_a_read_of_another_user_does_not_wait_for_a_person_s_purge(
    memory: Memory,
) -> None:
    """Held while it deletes person 9's messages, their purge keeps person 2's DM read
    waiting for nothing; a read of 9's own conversation waits, and finds all of it
    gone, and so does one of room g1, where 9 spoke (session 47: the purge is one
    transaction, its room lines no longer a first one of their own)."""
    await heavy_person(memory)
    held = HeldWrite()
    await held.install(memory, "messages", "DELETE")
    purging = asyncio.create_task(memory.purge("qq:user:9"))
    try:
        await held.until_half_done()
        own = asyncio.create_task(memory.conversation("qq:chan:g1:user:9"))
        room = asyncio.create_task(memory.room.recent("qq:chan:g1", 30, DAY))
        other = await asyncio.wait_for(memory.conversation("qq:user:2"), READ_SECONDS)
        assert not purging.done() and not own.done() and not room.done()
    finally:
        held.release()
        await purging
    assert texts(other) == ["你好", "回你好"]
    assert [line.content for line in await room] == ["二在群一"]
    assert texts(await own) == []


async def test_a_read_of_a_shared_conversation_never_sees_a_purge_half_done(
    memory: Memory,
) -> None:
    """`[memory] scope = "channel"`: group g2's conversation holds person 9's exchange.
    Read while their purge deletes their own conversations (its room lines already
    gone), it still held that exchange: a phone number in the next prompt. It waits now,
    and finds only the others' exchanges; so does a read of the room."""
    await heavy_person(memory)
    held = HeldWrite()
    await held.install(memory, "messages", "DELETE")
    purging = asyncio.create_task(memory.purge("qq:user:9"))
    try:
        await held.until_half_done()
        shared = asyncio.create_task(memory.conversation("qq:chan:g2"))
        room = asyncio.create_task(memory.room.recent("qq:chan:g2", 30, DAY))
        await asyncio.sleep(0.2)
        assert not shared.done() and not room.done()
    finally:
        held.release()
        await purging
    assert texts(await shared) == ["早", "回早"]
    assert await room == []


async def test_a_member_s_purge_in_a_shared_conversation_is_one_purge(
    echo_settings: Settings,
) -> None:
    """`[memory] scope = "channel"`: a person's purge took their exchanges out of the
    channel's conversation, then their room lines, in two writes: a prompt read between
    them found their words in the room still. A read of either waits for both now."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        memory = service.memory
        await memory.append_many("qq:chan:g2", exchange("9", "我的电话是 1234"), "g2-9")
        await memory.append_many("qq:chan:g2", exchange("2", "早"), "g2-2")
        await memory.room.add("qq:chan:g2", "qq", "9", "九", "九在群二", RoomBounds())
        held = HeldWrite()
        await held.install(memory, "messages", "DELETE")
        purging = asyncio.create_task(
            service.purge(ScopeRef(platform="qq", user_id="9", channel_id="g2"))
        )
        try:
            await held.until_half_done()
            shared = asyncio.create_task(memory.conversation("qq:chan:g2"))
            room = asyncio.create_task(memory.room.recent("qq:chan:g2", 30, DAY))
            await asyncio.sleep(0.2)
            assert not shared.done() and not room.done()
        finally:
            held.release()
            assert await purging == 3
        assert texts(await shared) == ["早", "回早"]
        assert await room == []


async def test_a_prompt_read_begun_during_a_channel_s_purge_finds_it_whole(
    echo_settings: Settings,
) -> None:
    """`[memory] scope = "user_in_channel"`: a channel's purge deletes its room lines,
    then its members' conversations, in two writes. A member's prompt read begun while
    the lines went found their conversation as before the purge, beside a room already
    empty. It waits for the whole purge now."""
    echo_settings.memory.scope = "user_in_channel"
    async with await ChatService.open(echo_settings) as service:
        memory = service.memory
        await memory.append_many("qq:chan:g1:user:2", exchange("2", "你好"), "g1-2")
        await memory.room.add("qq:chan:g1", "qq", "2", "二", "二在群一", RoomBounds())
        held = HeldWrite()
        await held.install(memory, "room_lines", "DELETE")
        purging = asyncio.create_task(service.purge(ScopeRef(platform="qq", channel_id="g1")))
        try:
            await held.until_half_done()
            own = asyncio.create_task(memory.conversation("qq:chan:g1:user:2"))
            other = await asyncio.wait_for(memory.conversation("qq:user:3"), READ_SECONDS)
            assert other.messages == [] and not own.done()
        finally:
            held.release()
            assert await purging == 3
        assert texts(await own) == []


async def test_a_room_read_waits_for_a_delete_begun_before_it(memory: Memory) -> None:
    """A delete of a line waits for the room's line being written; a prompt read of the
    room begun meanwhile found the committed room, the deleted line in it (test_room's
    bulk delete, once in CI). It waits for the delete now."""
    bounds = RoomBounds()
    await memory.room.add(
        "qq:chan:g1", "qq", "1", "小红", "我的电话是 1234", bounds, request_id="m1"
    )
    held = HeldWrite()
    await held.install(memory, "room_lines", "INSERT")
    writing = asyncio.create_task(memory.room.add("qq:chan:g1", "qq", "2", "小明", "早", bounds))
    try:
        await held.until_half_done()
        deleting = asyncio.create_task(memory.room.archive_message("qq:chan:g1", "1", "m1"))
        await asyncio.sleep(0)  # the delete began: it waits for the line being written
        reading = asyncio.create_task(memory.room.recent("qq:chan:g1", 30, DAY))
        other = await asyncio.wait_for(memory.room.recent("qq:chan:g2", 30, DAY), READ_SECONDS)
        assert other == [] and not reading.done()
    finally:
        held.release()
        await writing
    assert await deleting == 1
    assert [line.content for line in await reading] == ["早"]


async def test_a_reset_of_a_person_holds_back_only_reads_of_their_conversations(
    memory: Memory,
) -> None:
    """`atri memory reset` of person 9, held while it archives their messages: person 2's
    DM is read meanwhile; 9's own conversation in g1, and group g1's room, once the
    reset is whole (one transaction)."""
    await heavy_person(memory)
    held = HeldWrite()
    await held.install(memory, "messages", "UPDATE")
    resetting = asyncio.create_task(memory.reset_with_room("qq:user:9"))
    try:
        await held.until_half_done()
        own = asyncio.create_task(memory.conversation("qq:chan:g1:user:9"))
        room = asyncio.create_task(memory.room.recent("qq:chan:g1", 30, DAY))
        other = await asyncio.wait_for(memory.conversation("qq:user:2"), READ_SECONDS)
        assert not own.done() and not room.done()
    finally:
        held.release()
        assert await resetting == (4, 2)
    assert texts(other) == ["你好", "回你好"]
    assert [line.content for line in await room] == ["二在群一"]
    assert texts(await own) == []


async def test_closing_leaves_everything_in_the_database_file(tmp_path: Path) -> None:
    """The writer closes after the reader: it checkpoints the WAL into the file and
    removes it, so a copy of the file alone (a backup) misses nothing."""
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", exchange("1", "你好"), "m1")
        assert texts(await memory.conversation("qq:user:1")) == ["你好", "回你好"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sqlite3"]

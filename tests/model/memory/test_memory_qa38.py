"""QA pass 38 on the memory store: an import racing the worker's writes, and room lines
under a channel's reset, purge and listing. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import EXPORT_FORMAT, EXPORT_VERSION, Memory, parse_export
from model.protocol import ChatRequest, ScopeRef
from model.room import RoomBounds
from model.service import ChatService


def export_of(scope: str, count: int, user: str = "2") -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "scope": scope,
        "messages": [
            {"role": "user", "user_id": user, "content": f"old {i}", "created_at": 100.0 + i}
            for i in range(count)
        ],
        "summaries": [],
        "room_lines": [],
    }


def write_message(path: Path, scope: str, text: str) -> None:
    """What a worker in another process does: one message, in a transaction of its own,
    waiting (busy timeout) for a writer that holds the lock."""
    con = sqlite3.connect(path, timeout=10)
    try:
        with con:
            con.execute(
                "INSERT INTO messages (scope, role, user_id, content, created_at)"
                " VALUES (?, 'user', '3', ?, 1)",
                (scope, text),
            )
    finally:
        con.close()


async def test_an_import_while_another_connection_writes_keeps_every_row(
    tmp_path: Path,
) -> None:
    """`atri memory import` beside a running worker failed with "UNIQUE constraint
    failed: messages.id": it read the next free id while the worker was writing, the
    worker's message took that id, and the import then inserted at it. Now the import
    takes the write lock first and waits (busy timeout) for the worker's write."""
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "A", "before", "")])
        worker = sqlite3.connect(path, isolation_level=None)
        worker.execute("BEGIN IMMEDIATE")  # the worker, in the middle of storing one
        worker.execute(
            "INSERT INTO messages (scope, role, user_id, content, created_at)"
            " VALUES ('qq:user:3', 'user', '3', 'worker', 1)"
        )
        try:
            importing = asyncio.create_task(
                memory.import_export(parse_export(export_of("qq:user:2", 20), "x"))
            )
            await asyncio.sleep(0.3)
            assert not importing.done()  # waiting for the lock, not failing
        finally:
            worker.execute("COMMIT")
            worker.close()
        result = await asyncio.wait_for(importing, 10)

    con = sqlite3.connect(path)
    counts = dict(con.execute("SELECT scope, COUNT(*) FROM messages GROUP BY scope"))
    imported = [r[0] for r in con.execute("SELECT content FROM messages WHERE scope = 'qq:user:2'")]
    con.close()
    assert result.added == 20
    assert counts == {"qq:user:1": 1, "qq:user:2": 20, "qq:user:3": 1}
    assert imported == [f"old {i}" for i in range(20)]


async def test_a_backup_import_racing_a_writing_thread_stores_all_rows(tmp_path: Path) -> None:
    """The same race left to the scheduler: a thread commits messages one by one, over
    its own connection, for as long as a backup of many scopes is imported."""
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "A", "before", "")])
    backup = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "scopes": [
            {
                key: value
                for key, value in export_of(f"qq:user:{100 + n}", 5, str(n)).items()
                if key in ("scope", "messages", "summaries")
            }
            for n in range(40)
        ],
        "room_lines": [],
    }
    done = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not done.is_set():
            write_message(path, "qq:user:3", f"live {len(written)}")
            written.append(1)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        async with await Memory.open(path) as memory:
            result = await memory.import_export(parse_export(backup, "backup.json"))
    finally:
        done.set()
        thread.join(10)
    con = sqlite3.connect(path)
    total = con.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    worker = con.execute("SELECT COUNT(*) FROM messages WHERE scope = 'qq:user:3'").fetchone()[0]
    con.close()
    assert result.added == 200
    assert worker == len(written)
    assert total == 1 + 200 + len(written)


def said(text: str, user: str, channel: str, addressed: bool = False) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=f"n{user}",
        text=text,
        channel_id=channel,
        addressed=addressed,
    )


async def fill_two_channels(service: ChatService) -> None:
    for channel in ("g1", "g2"):
        await service.chat(said("闲聊", "1", channel))  # heard: a room line
        await service.chat(said("亚托莉你好", "2", channel, addressed=True))  # a conversation


@pytest.mark.parametrize("kind", ["user", "user_in_channel", "channel"])
async def test_purging_a_channel_deletes_its_room_lines_and_its_conversations(
    echo_settings: Settings, kind: str
) -> None:
    """`POST /purge` for a channel mapped it to the key `qq:user:` under the default
    scope (a user id left empty): nothing was deleted, the room's lines stayed. Under
    `user_in_channel`, each member's conversation in the channel stayed too."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await fill_two_channels(service)
        member_scope = service.scope_for("qq", "2", "g1")
        other_scope = service.scope_for("qq", "2", "g2")
        count = await service.purge(ScopeRef(platform="qq", channel_id="g1"))
        memory = service.memory
        assert await memory.room.all_lines("qq:chan:g1") == []
        assert len(await memory.room.all_lines("qq:chan:g2")) == 1
        if kind == "user":  # a conversation belongs to its user, not to the channel
            assert count == 1
            assert len(await memory.all_messages(member_scope)) == 4  # both channels'
        else:
            assert count == 1 + 2  # the line, and the exchange said in the channel
            assert await memory.all_messages(member_scope) == []
            assert len(await memory.all_messages(other_scope)) == 2


async def test_resetting_a_channel_key_archives_its_room_lines(tmp_path: Path) -> None:
    """`atri memory reset qq:chan:g1` archived the channel's messages and left its room
    lines in every later prompt; a user's key archives that user's lines, as purge
    deletes them."""
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        bounds = RoomBounds()
        for room in ("qq:chan:g1", "qq:chan:g2"):
            await memory.room.add(room, "qq", "1", "甲", "甲的话", bounds)
            await memory.room.add(room, "qq", "2", "乙", "乙的话", bounds)
        await memory.append_many("qq:chan:g1", [("user", "2", "乙", "亚托莉", "")])

        assert await memory.reset_with_room("qq:chan:g1") == (1, 2)
        assert await memory.room.recent("qq:chan:g1", 10, 3600) == []
        assert len(await memory.room.recent("qq:chan:g2", 10, 3600)) == 2

        assert await memory.reset_with_room("qq:chan:g2:user:1") == (0, 1)  # in g2 only
        assert [line.user_id for line in await memory.room.recent("qq:chan:g2", 10, 3600)] == ["2"]
        assert await memory.reset_with_room("qq:user:2") == (0, 1)  # everywhere on qq
        assert await memory.room.recent("qq:chan:g2", 10, 3600) == []
        # Archived, not deleted: a reset keeps them as it keeps messages.
        assert len(await memory.room.all_lines("qq:chan:g1")) == 2


async def test_scopes_lists_rooms_with_their_lines(tmp_path: Path) -> None:
    """A room was in the database but in no `atri memory list`: it could not be found
    to reset or purge."""
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        bounds = RoomBounds()
        await memory.room.add("qq:chan:g1", "qq", "1", "甲", "甲的话", bounds)
        await memory.room.add("qq:chan:g1", "qq", "2", "乙", "乙的话", bounds)
        await memory.room.add("qq:chan:g2", "qq", "1", "甲", "只在群里说", bounds)
        await memory.append_many("qq:chan:g1", [("user", "2", "乙", "亚托莉", "")])
        await memory.append_many("qq:user:5", [("user", "5", "丙", "私聊", "")])
        await memory.room.archive_user("qq", "2", "qq:chan:g1")

        rows = {row["scope"]: row for row in await memory.scopes()}
        assert set(rows) == {"qq:chan:g1", "qq:chan:g2", "qq:user:5"}
        assert (rows["qq:chan:g1"]["total"], rows["qq:chan:g1"]["room_total"]) == (1, 2)
        assert rows["qq:chan:g1"]["room_live"] == 1
        assert (rows["qq:chan:g2"]["total"], rows["qq:chan:g2"]["room_live"]) == (0, 1)
        assert rows["qq:chan:g2"]["last"] > 1e9
        assert rows["qq:user:5"]["room_total"] == 0

        assert await memory.remembers("qq:chan:g2")  # by its lines alone
        assert await memory.remembers("qq:user:1")  # a user heard only in groups
        assert not await memory.remembers("qq:chan:g3")
        assert not await memory.remembers("qq:user:9")

"""Every write checks that `[memory] path` still names its file before it writes (s75).

A reply write (`Memory._insert`) checked before it wrote, but a room line (`RoomLog`
add, reword, archive), a reset and a purge checked only after their commit: after `mv
atri.sqlite3 elsewhere` under a running worker, a line she overheard or a reset was
committed into the moved file first, and only then refused as `FileMoved` (note74
"Left alone"). Each write now stats the file before its first statement
(`OneTransaction.held_to_write`), and that stat stands for its commit's: still one a
write. Real SQLite files, moved as an operator's `mv` moves them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from atri.config import Settings
from model.memory import Memory
from model.memory.database import FileMoved
from model.memory.scopes import channel_prefix
from model.protocol import ChatRequest, MemoryUnavailable, ScopeRef
from model.room import RoomBounds
from model.service import ChatService
from tests.model.memory.test_operator_sees_s74 import errors
from tests.model.test_memory_backup_module_s75 import StatsOf
from tests.model.test_room import said

ROOM = channel_prefix("qq", "g1")
SCOPE = "qq:user:1"
BOUNDS = RoomBounds()


def heard(text: str, request_id: str = "") -> ChatRequest:
    return said(text, "1", "甲", request_id=request_id)


def failed_room_lines(service: ChatService) -> float | None:
    return service.metrics.registry.get_sample_value(
        "atri_memory_write_failures_total", {"what": "room_line"}
    )


def held(path: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(content, archived) of every room line and message the file holds now, read on a
    connection of its own (the last commit)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        lines = db.execute("SELECT content, archived FROM room_lines ORDER BY id").fetchall()
        messages = db.execute("SELECT content, archived FROM messages ORDER BY id").fetchall()
    db.close()
    return lines, messages


async def held_after_close(path: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """`held`, once a Memory opened and closed it (its -wal checkpointed in)."""
    async with await Memory.open(path):
        pass
    return held(path)


@pytest.fixture
def moved(tmp_path: Path) -> Path:
    return tmp_path / "aside.sqlite3"


async def test_a_room_line_heard_after_a_move_is_refused_unwritten(
    echo_settings: Settings, moved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(echo_settings.memory.path)
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(heard("before the move"))).status == "heard"
        path.rename(moved)  # `mv` meant to start over, under a running worker
        with caplog.at_level(logging.WARNING):
            assert (await service.chat(heard("while moved"))).status == "heard"
        # Said and counted as a room line that failed, as any failed write of one is.
        (sentence,) = errors(caplog)
        assert sentence.startswith(f"[memory] path {path} was moved to {moved} while ATRI ran")
        assert failed_room_lines(service) == 1
        moved.rename(path)  # as told; what the moved file held is all it holds
    assert (await held_after_close(path))[0] == [("before the move", 0)]


async def test_a_room_line_reworded_or_archived_after_a_move_is_refused_unwritten(
    tmp_path: Path, moved: Path
) -> None:
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.room.add(ROOM, "qq", "1", "甲", "before the move", BOUNDS, request_id="m1")
        path.rename(moved)
        with pytest.raises(FileMoved):
            await memory.room.add(ROOM, "qq", "1", "甲", "while moved", BOUNDS)
        with pytest.raises(FileMoved):
            await memory.room.reword(ROOM, "1", "m1", "edited while moved", BOUNDS)
        with pytest.raises(FileMoved):
            await memory.room.archive_room(ROOM)
        moved.rename(path)
    assert (await held_after_close(path))[0] == [("before the move", 0)]


async def test_a_reset_after_a_move_is_refused_unwritten(
    echo_settings: Settings, moved: Path
) -> None:
    """A channel's reset (its room lines and conversations, one transaction) and a
    person's reset (`Memory.reset`)."""
    path = Path(echo_settings.memory.path)
    async with await ChatService.open(echo_settings) as service:
        await service.chat(heard("a line"))
        await service.memory.append(SCOPE, "user", "1", "a message")
        path.rename(moved)
        with pytest.raises(MemoryUnavailable, match="was moved to"):
            await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        with pytest.raises(FileMoved):
            await service.memory.reset(SCOPE)
        with pytest.raises(FileMoved):
            await service.memory.purge(SCOPE)
        moved.rename(path)
    assert await held_after_close(path) == ([("a line", 0)], [("a message", 0)])


@pytest.fixture
def stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsOf]:
    counter = StatsOf(tmp_path / "m.sqlite3")
    monkeypatch.setattr(os, "stat", counter.wrap(os.stat))
    yield counter


async def test_each_write_stats_the_file_once_before_it_writes(
    tmp_path: Path, stats: StatsOf
) -> None:
    """One stat a write, as a reply write's: taken before the write, so the file holds
    nothing of it yet (a stat after the commit found it there)."""
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append(SCOPE, "user", "1", "a message")
        room = memory.room
        writes: list[Callable[[], Awaitable[object]]] = [
            lambda: room.add(ROOM, "qq", "1", "甲", "a line", BOUNDS, request_id="m1"),
            lambda: room.reword(ROOM, "1", "m1", "an edited line", BOUNDS),
            lambda: room.archive_room(ROOM),
            lambda: memory.reset(SCOPE),
            lambda: memory.reset_with_room(SCOPE),  # several writes, one transaction
            lambda: memory.purge(SCOPE),
        ]
        seen: list[object] = []  # what the file held at each write's stat
        for write in writes:
            before = held(path)
            seen.clear()
            stats.calls, stats.then = 0, lambda: seen.append(held(path))
            await write()
            assert stats.calls == 1
            assert seen == [before]
        assert held(path) != ([("a line", 0)], [("a message", 0)])  # they all wrote

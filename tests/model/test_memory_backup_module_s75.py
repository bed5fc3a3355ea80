"""One stat of `[memory] path` per reply write (s75).

Every reply write checked that the database file is still at its path twice: before it
wrote (`Memory._insert`) and after its commit (`Memory._after_commit`), two `os.stat`
calls on the reply hot path. The check before the write now stands for its commit's;
other writes (a reset, a summary) still check after their commit. A file moved away
between two writes is still caught before anything is written into it.

(The same session moved export, backup and import into `model.memory.backup`; the
existing export/backup/import tests are what pin that move.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from model.memory import Memory
from model.memory.database import FileMoved

SCOPE = "p:user:u1"
ROW = ("user", "u1", "", "hello", "")


class StatsOf:
    """`os.stat` calls on one path, counted; `then` runs after each (a move mid-write)."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = str(path), 0
        self.then: Callable[[], None] | None = None

    def wrap(self, stat: Callable[..., Any]) -> Callable[..., Any]:
        def counted(target: Any, *args: Any, **kwargs: Any) -> Any:
            found = stat(target, *args, **kwargs)
            if isinstance(target, str | os.PathLike) and os.fspath(target) == self.path:
                self.calls += 1
                if self.then is not None:
                    then, self.then = self.then, None
                    then()
            return found

        return counted


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "m.sqlite3"


@pytest.fixture
def stats(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsOf]:
    counter = StatsOf(path)
    monkeypatch.setattr(os, "stat", counter.wrap(os.stat))
    yield counter


async def contents(path: Path) -> list[str]:
    async with await Memory.open(path) as memory:
        return [m.content for m in await memory.all_messages(SCOPE)]


async def test_a_reply_write_stats_the_file_once(path: Path, stats: StatsOf) -> None:
    async with await Memory.open(path) as memory:
        await memory.append(SCOPE, "user", "u1", "first")  # the first since open, too
        for write in range(3):
            stats.calls = 0
            await memory.append(SCOPE, "user", "u1", f"said {write}")
            assert stats.calls == 1
            stats.calls = 0
            await memory.append_many(SCOPE, [ROW, ("assistant", "", "", "hi", "")], "r1")
            assert stats.calls == 1


async def test_a_file_moved_between_two_writes_is_caught_before_the_second(
    path: Path, tmp_path: Path, stats: StatsOf
) -> None:
    aside = tmp_path / "aside.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append(SCOPE, "user", "u1", "before the move")
        path.rename(aside)
        with pytest.raises(FileMoved):
            await memory.append(SCOPE, "user", "u1", "while moved")
        with pytest.raises(FileMoved):  # and each write after, whatever the last one did
            await memory.append_many(SCOPE, [ROW], "r2")
        aside.rename(path)
        await memory.append(SCOPE, "user", "u1", "once back")
    # Nothing was written into the moved file: it holds what it held before.
    assert await contents(path) == ["before the move", "once back"]


async def test_a_file_moved_while_a_reply_is_written_fails_the_next_write(
    path: Path, tmp_path: Path, stats: StatsOf
) -> None:
    """The stat before a write stands for its commit's: a move in the millisecond between
    them is caught by the next write, before it writes."""
    aside = tmp_path / "aside.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append(SCOPE, "user", "u1", "before the move")
        stats.then = lambda: path.rename(aside)  # right after the write's own stat
        await memory.append(SCOPE, "user", "u1", "as it moved")
        with pytest.raises(FileMoved):
            await memory.append(SCOPE, "user", "u1", "after the move")
        aside.rename(path)
    assert await contents(path) == ["before the move", "as it moved"]


async def test_the_next_write_checks_the_file_again(
    path: Path, tmp_path: Path, stats: StatsOf
) -> None:
    """The reply write's check is its commit's alone: a reset after it stats again."""
    aside = tmp_path / "aside.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append(SCOPE, "user", "u1", "before the move")
        path.rename(aside)
        with pytest.raises(FileMoved):
            await memory.reset(SCOPE)
        aside.rename(path)

"""A database an older ATRI wrote is copied beside it before it is migrated in place: going
back to that ATRI (which refuses a newer schema) means restoring the copy. `atri memory
list` migrated such a file silently and kept nothing."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from atri.errors import UserError
from model.memory import MIGRATIONS, SCHEMA_VERSION, Memory


def schema_2_file(path: Path, content: str = "from schema 2") -> None:
    """A database as ATRI wrote it at schema 2 (WAL, as ATRI always set it), one message."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    for step in MIGRATIONS[:2]:
        con.executescript(step)
    con.execute(
        "INSERT INTO messages (scope, role, user_id, content, created_at)"
        " VALUES ('qq:user:1', 'user', '1', ?, 1)",
        (content,),
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


def version_and_contents(path: Path) -> tuple[int, list[str]]:
    con = sqlite3.connect(path)
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        rows = [r[0] for r in con.execute("SELECT content FROM messages ORDER BY id")]
    finally:
        con.close()
    return version, rows


def backups(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".bak"))


@pytest.mark.parametrize("read_only", [True, False])
async def test_an_older_file_is_copied_before_it_is_migrated(
    tmp_path: Path, read_only: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """`read_only` is how `atri memory list/show/export` open it."""
    path = tmp_path / "atri.sqlite3"
    schema_2_file(path)
    with caplog.at_level(logging.INFO, logger="model.memory.store"):
        async with await Memory.open(path, read_only=read_only) as memory:
            assert await memory.schema_version() == SCHEMA_VERSION
            assert [m.content for m in await memory.history("qq:user:1")] == ["from schema 2"]
    copy = tmp_path / "atri.sqlite3.schema2.bak"
    assert backups(tmp_path) == [copy.name]
    assert version_and_contents(copy) == (2, ["from schema 2"])
    told = [r.getMessage() for r in caplog.records if r.name == "model.memory.store"]
    assert told == [
        f"memory database upgraded from schema 2 to {SCHEMA_VERSION}; the earlier file is "
        f"kept at {copy}"
    ]
    # Opened again: nothing left to migrate, no second copy, nothing said.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="model.memory.store"):
        async with await Memory.open(path, read_only=read_only):
            pass
    assert backups(tmp_path) == [copy.name] and not caplog.records


async def test_a_new_or_empty_database_gets_no_copy(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "new.sqlite3"):
        pass
    (tmp_path / "empty.sqlite3").touch()  # a file made by hand: no database in it yet
    async with await Memory.open(tmp_path / "empty.sqlite3"):
        pass
    assert backups(tmp_path) == []


async def test_an_earlier_copy_is_not_written_over(tmp_path: Path) -> None:
    path = tmp_path / "atri.sqlite3"
    (tmp_path / "atri.sqlite3.schema2.bak").write_bytes(b"a copy made by hand")
    schema_2_file(path, "second")
    async with await Memory.open(path, read_only=True):
        pass
    assert (tmp_path / "atri.sqlite3.schema2.bak").read_bytes() == b"a copy made by hand"
    assert version_and_contents(tmp_path / "atri.sqlite3.schema2-2.bak") == (2, ["second"])


async def test_a_copy_that_cannot_be_written_stops_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "atri.sqlite3"
    schema_2_file(path)

    async def full_disk(self: aiosqlite.Connection, target: object, **_: object) -> None:
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(aiosqlite.Connection, "backup", full_disk)
    with pytest.raises(UserError) as caught:
        await Memory.open(path, read_only=True)
    said = str(caught.value)
    assert f"[memory] path {path} holds a database from an older ATRI (schema 2)" in said
    assert f"the copy {tmp_path / 'atri.sqlite3.schema2.bak'} could not be written" in said
    assert "nothing was changed: free about 1 MB on its disk and run it again." in said
    assert said.count(". ") == 0  # one sentence
    assert version_and_contents(path) == (2, ["from schema 2"])
    assert backups(tmp_path) == []  # no half-written copy left to be taken for one


async def test_a_file_an_older_atri_still_has_open_is_not_upgraded(tmp_path: Path) -> None:
    """An older worker left running went on writing into the upgraded file as it knew it:
    a purge it made there was undone by the next import (s66)."""
    path = tmp_path / "atri.sqlite3"
    schema_2_file(path)
    older = sqlite3.connect(path)  # the older worker, idle between messages
    older.execute("SELECT content FROM messages").fetchall()
    try:
        with pytest.raises(UserError, match="is open in another program"):
            await Memory.open(path)
        assert version_and_contents(path) == (2, ["from schema 2"])
        assert backups(tmp_path) == []
    finally:
        older.close()
    async with await Memory.open(path) as memory:  # once it has stopped
        assert await memory.schema_version() == SCHEMA_VERSION
        await memory.append_many("qq:user:1", [("user", "1", "Ann", "after", "")])
    assert version_and_contents(path) == (SCHEMA_VERSION, ["from schema 2", "after"])

"""What the README says of copying the database file holds for ATRI's own database: a
copy of the file alone beside a running worker lacks what waits in its -wal, and an old
file put back beside a stale -wal gets that -wal replayed onto it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from model.memory import Memory

README = Path(__file__).resolve().parents[2] / "README.md"


def texts(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages ORDER BY id")]


async def test_a_copy_of_the_file_alone_lacks_the_wal_and_a_stale_wal_is_replayed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "A", "old", "")])
        await memory.settle_deletions()  # the -wal written into the file
        old_file = tmp_path / "old.sqlite3"
        shutil.copy(path, old_file)
        await memory.append_many("qq:user:1", [("user", "1", "A", "new", "")])
        alone = tmp_path / "alone.sqlite3"
        shutil.copy(path, alone)  # the worker running
        crashed = tmp_path / "crashed"
        crashed.mkdir()
        for part in ("", "-wal", "-shm"):  # what a killed worker leaves
            shutil.copy(f"{path}{part}", crashed / f"mem.sqlite3{part}")

    assert texts(alone) == ["old"]
    shutil.copy(old_file, crashed / "mem.sqlite3")
    assert texts(crashed / "mem.sqlite3") == ["old", "new"]  # not the old state


def test_the_readme_says_how_to_back_up_and_put_back_the_file() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert (
        "copy the folder (`mem.sqlite3` with its `-wal` and `-shm`) only while the worker is stopped"
        in text
    )
    assert "delete any `mem.sqlite3-wal` and `mem.sqlite3-shm` beside it" in text

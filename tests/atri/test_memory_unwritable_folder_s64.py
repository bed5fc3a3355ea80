"""Session 64: `atri memory list`, `show` and `export` read a database in a folder this
user cannot write (one another account's ATRI keeps). SQLite cannot make the WAL index
beside it there, and the commands said it "cannot be written", which they never do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.memory import Memory
from tests.without_root_powers import as_a_user_file_modes_stop

REPO = Path(__file__).resolve().parents[2]


async def filled(path: Path) -> None:
    async with await Memory.open(path) as memory:
        await memory.append("qq:user:7", "user", "7", "我的猫叫年糕")


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["list"], "qq:user:7"),
        (["show", "qq:user:7"], "我的猫叫年糕"),
        (["export"], "我的猫叫年糕"),
    ],
)
def test_read_commands_read_a_database_in_a_folder_they_cannot_write(
    tmp_path: Path, args: list[str], shown: str
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    asyncio.run(filled(folder / "mem.sqlite3"))
    (tmp_path / "config.toml").write_text(
        '[memory]\npath = "theirs/mem.sqlite3"\n', encoding="utf-8"
    )
    folder.chmod(0o555)
    try:
        done = subprocess.run(
            as_a_user_file_modes_stop([sys.executable, "-m", "atri", "memory", *args]),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "COLUMNS": "200"},
            timeout=120,
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["mem.sqlite3"]


def test_a_read_of_a_read_only_file_does_not_leave_it_unwritable_once_made_writable(
    tmp_path: Path,
) -> None:
    """SQLite gives the -wal and -shm it makes the database's mode: `memory list` on a
    file at chmod 444 left them read-only, and after `chmod u+w` on the database every
    write failed with "cannot be written"."""
    database = tmp_path / "mem.sqlite3"
    asyncio.run(filled(database))
    (tmp_path / "config.toml").write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")

    def atri(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            as_a_user_file_modes_stop([sys.executable, "-m", "atri", "memory", *args]),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            input="y\n",
            env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "COLUMNS": "200"},
            timeout=120,
        )

    database.chmod(0o444)
    listed = atri("list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    database.chmod(0o644)
    reset = atri("reset", "qq:user:7")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "1 message archived" in reset.stdout

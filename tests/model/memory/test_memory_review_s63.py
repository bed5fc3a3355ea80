"""What a review of the memory under real-world trouble found, each reproduced first: an
export to a full disk said nothing, an export through a link or into a pipe replaced it,
a worker would not start while an import wrote, a failed upgrade left a copy each time
and half a schema, a deeply nested import was a traceback, and the console chat ended
before its greeting on a damaged file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from atri.config import Settings
from atri.errors import UserError
from model.memory import SCHEMA_VERSION, Memory
from model.memory.upgrade_copies import upgrade_copies
from tests.model.test_dberrors_qa38 import damage, filled

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}


def atri(config: Path, *args: str, **run: object) -> subprocess.CompletedProcess[str]:
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **run}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "atri", "--config", str(config), *args],
        text=True,
        timeout=120,
        cwd=config.parent,
        env=ENV,
        **streams,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[model]\nengine = "echo"\n[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")
    return path


async def remembered(config: Path) -> Path:
    path = config.parent / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "", "hello " * 50, "")] * 50)
    return path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
async def test_an_export_to_a_full_disk_is_one_sentence_and_status_1(config: Path) -> None:
    # Before: under `> backup.json` on a full disk, part of the backup and status 0.
    await remembered(config)
    with open("/dev/full", "w") as full:
        done = atri(config, "memory", "export", stdout=full)
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())
    assert "The export could not be written to standard output (No space left on device)" in said
    assert "Traceback" not in done.stderr


async def test_an_export_goes_through_a_link_and_into_a_pipe(config: Path) -> None:
    # Before: the link and the pipe were replaced by a file of their name.
    await remembered(config)
    backups = config.parent / "backups"
    backups.mkdir()
    (backups / "real.json").write_text('{"old": "backup"}', encoding="utf-8")
    link = config.parent / "link.json"
    link.symlink_to(backups / "real.json")
    through_link = atri(config, "memory", "export", "--out", str(link))
    assert through_link.returncode == 0, through_link.stderr
    assert link.is_symlink() and '"qq:user:1"' in (backups / "real.json").read_text("utf-8")

    pipe = config.parent / "pipe.json"
    os.mkfifo(pipe)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text("utf-8")))
    reader.start()
    into_pipe = atri(config, "memory", "export", "--out", str(pipe))
    reader.join(timeout=60)
    assert into_pipe.returncode == 0, into_pipe.stderr
    assert pipe.is_fifo() and '"qq:user:1"' in got[0]


async def test_a_worker_opens_its_memory_while_another_program_writes(tmp_path: Path) -> None:
    # Before: it waited out the 5 s busy timeout and gave up ("is in use").
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append("qq:user:1", "user", "1", "hello")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        memory = await asyncio.wait_for(Memory.open(path), timeout=30)
        opened_in = time.monotonic() - started
        await memory.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert opened_in < 3


async def test_a_failed_upgrade_leaves_the_file_as_it_was_and_no_copy(tmp_path: Path) -> None:
    # A current file stamped schema 1: the first step fails (its column is there).
    # Before: a copy each time, and a file stamped 0 went on to 1 before failing.
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append("qq:user:1", "user", "1", "hello")
    for stamped in (1, 0):
        con = sqlite3.connect(path)
        con.execute(f"PRAGMA user_version = {stamped}")
        con.close()
        for _ in range(2):
            with pytest.raises(Exception, match=r"duplicate column|already exists"):
                await Memory.open(path)
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA user_version").fetchone()[0] == stamped
        con.close()
        assert upgrade_copies(path) == []
    assert SCHEMA_VERSION > 1


async def test_an_import_nested_a_thousand_deep_is_one_sentence(config: Path) -> None:
    nested = config.parent / "nested.json"
    nested.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    done = atri(config, "memory", "import", str(nested))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cannot be read as an ATRI memory export (it nests too deeply)." in " ".join(
        done.stderr.split()
    )


async def test_the_console_greets_and_answers_on_a_damaged_file(
    config: Path, echo_settings: Settings
) -> None:
    # Before: it ended with status 1 before its greeting, where a worker on the same
    # file answers (her error line) and says memory is unavailable.
    echo_settings.memory.path = str(config.parent / "mem.sqlite3")
    damage(await filled(echo_settings))
    done = atri(config, "chat", input="hello\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "the file is damaged" in " ".join((done.stdout + done.stderr).split())
    assert "Traceback" not in done.stderr


async def test_a_file_cut_short_is_called_damaged_at_open(tmp_path: Path) -> None:
    # Before: "database disk image is malformed; point it at a database file in a folder
    # ATRI can write", as for a file that is no database.
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        for i in range(2000):
            await memory.append(f"qq:user:{i % 50}", "user", str(i), "hello " * 40)
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)
    with pytest.raises(UserError) as err:
        await Memory.open(path)
    said = str(err.value)
    assert "the file is damaged; stop ATRI, move it aside with its -wal and -shm files" in said
    assert "folder ATRI can write" not in said

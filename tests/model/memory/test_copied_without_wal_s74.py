"""Session 74: the memory file copied alone while the worker ran (`cp data/atri.sqlite3`,
no -wal) is a 4 KiB SQLite file with no tables: everything was still in the -wal.
Opening it made a new, empty memory without a word; it is warned of now, as an empty
(0-byte) file is, and opened all the same (a file someone made by hand is one too). A
`[memory] path` the system refuses to create although its folder looks writable (/sys
to root), or names that cannot be a file, ended in a traceback; they are one sentence
now. Each test runs on real SQLite files and the real `atri` command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from atri.config import Settings
from model.memory import Memory
from model.service import ChatService
from tests.atri.memory_cli import atri
from tests.cli_output import says
from tests.model.memory.test_memory_files_s69 import EXPORT, config_for, store_warnings

NO_MEMORY = "holds no memory (an SQLite file with no tables), so a new memory database was made"


async def copy_taken_while_running(path: Path, copy: Path) -> None:
    """`copy`: `path` copied alone while a worker has it open, after she remembered."""
    async with await Memory.open(path) as memory:
        await memory.append("qq:user:1", "user", "1", "remember the lighthouse")
        shutil.copyfile(path, copy)
    assert copy.stat().st_size == 4096  # the header alone: her memory was in the -wal


async def test_a_worker_on_a_copy_taken_without_its_wal_warns_and_goes_on(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    copy = Path(echo_settings.memory.path)
    await copy_taken_while_running(copy.with_name("original.sqlite3"), copy)
    caplog.clear()  # the original's "New memory database"
    with caplog.at_level(logging.INFO):
        async with await ChatService.open(echo_settings) as service:
            assert not await service.memory.remembers("qq:user:1")
    (said,) = store_warnings(caplog)
    assert said.startswith(f"[memory] path {copy} {NO_MEMORY} in it")
    assert "it lacked its -wal file, which held everything" in said
    assert not [r for r in caplog.records if "New memory database" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.INFO):  # ATRI's memory now, however empty: said once
        async with await ChatService.open(echo_settings):
            pass
    assert store_warnings(caplog) == []


async def test_the_copy_with_its_wal_opens_as_her_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original, copy = tmp_path / "original.sqlite3", tmp_path / "copy.sqlite3"
    async with await Memory.open(original) as memory:
        await memory.append("qq:user:1", "user", "1", "remember the lighthouse")
        shutil.copyfile(original, copy)
        shutil.copyfile(f"{original}-wal", f"{copy}-wal")
    assert copy.stat().st_size == 4096  # its tables are in its -wal alone
    caplog.clear()
    with caplog.at_level(logging.INFO):
        async with await Memory.open(copy) as memory:
            assert await memory.remembers("qq:user:1")
    assert store_warnings(caplog) == []


@pytest.mark.parametrize("journal", ["WAL", "DELETE"])
async def test_a_database_made_by_hand_with_no_tables_is_warned_of_as_an_empty_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, journal: str
) -> None:
    """`sqlite3 x.db 'PRAGMA journal_mode=WAL'` or `VACUUM`: a new memory is made in it,
    as in a 0-byte file, with the same warning as a copy without its -wal."""
    path = tmp_path / "x.db"
    made = sqlite3.connect(path)
    made.execute(f"PRAGMA journal_mode={journal}")
    made.execute("VACUUM")
    made.close()
    with caplog.at_level(logging.INFO):
        async with await Memory.open(path) as memory:
            await memory.append("qq:user:1", "user", "1", "hello")
    (said,) = store_warnings(caplog)
    assert NO_MEMORY in said


async def test_an_import_into_such_a_copy_says_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`expect_new`: an import makes a database on purpose, as into an empty file."""
    copy = tmp_path / "copy.sqlite3"
    await copy_taken_while_running(tmp_path / "original.sqlite3", copy)
    with caplog.at_level(logging.INFO):
        async with await Memory.open(copy, expect_new=True):
            pass
    assert store_warnings(caplog) == []


def test_atri_memory_list_on_such_a_copy_says_so_and_writes_nothing(tmp_path: Path) -> None:
    """As on a file of 0 bytes: `list`, `show` and `export` refuse it in one sentence, and
    leave it as it was (opening it made her tables in it)."""
    copy = tmp_path / "mem.sqlite3"
    asyncio.run(copy_taken_while_running(tmp_path / "original.sqlite3", copy))
    before = copy.read_bytes()
    for command in (["list"], ["show", "qq:user:1"], ["export", "qq:user:1", "-o", "x.json"]):
        code, out = atri(config_for(tmp_path, "mem.sqlite3"), "memory", *command)
        assert code == 1, out
        assert says(out, "the file holds no tables, so nothing is stored there"), out
    assert copy.read_bytes() == before and not (tmp_path / "mem.sqlite3-wal").exists()


def a_bad_path_is_said_as_such(tmp_path: Path, database: str, reason: str) -> None:
    """`atri memory import` into `database`: one sentence naming [memory] path and the
    system's reason, no traceback, and the exit code of a path that names a folder."""
    backup = tmp_path / "one.json"
    backup.write_text(json.dumps(EXPORT), encoding="utf-8")
    folder = atri(config_for(tmp_path, str(tmp_path)), "memory", "import", str(backup))
    code, out = atri(config_for(tmp_path, database), "memory", "import", str(backup))
    assert "Traceback" not in out, out
    assert says(out, f"[memory] path {database} cannot be {reason}; point it at"), out
    assert code == folder[0] == 2, (out, folder[1])


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or not os.path.isdir("/sys/kernel"),
    reason="only root is told /sys is writable: anyone else hears it cannot be written",
)
def test_a_folder_that_refuses_the_file_is_one_sentence(tmp_path: Path) -> None:
    assert os.access("/sys", os.W_OK | os.X_OK)
    a_bad_path_is_said_as_such(tmp_path, "/sys/atri.sqlite3", "created (Permission denied)")
    assert not Path("/sys/atri.sqlite3").exists()


def test_a_name_too_long_for_a_file_is_one_sentence(tmp_path: Path) -> None:
    long_name = str(tmp_path / ("a" * 300 + ".sqlite3"))
    a_bad_path_is_said_as_such(tmp_path, long_name, "used (File name too long)")

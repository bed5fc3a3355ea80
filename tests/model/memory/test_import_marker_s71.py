"""Session 71: an `atri memory import` killed outright is named afterwards.

An import commits its file a part at a time, so one killed with SIGKILL (the OOM killer,
a power cut) left 68,000 of 100,200 messages stored, and `atri memory list` showed 34 of
55 scopes as if the restore were complete; the worker started without a word. The import
now leaves a marker beside the database while it writes: a marker whose process is gone
is named by `list`, by the worker's start, and by the next import of that file, which
completes it. One of an import still running is not.

Run as a module, this is that import stopped after its first committed part:
  python -m tests.model.memory.test_import_marker_s71 CONFIG FILE READY
It writes READY once the part is committed, then waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from model.memory import Memory
from model.memory.import_marker import MARKER_INFIX
from model.service import ChatService
from tests.atri.memory_cli import atri, big_backup

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

SCOPES, PER_SCOPE = 4, 10  # written in parts of PER_SCOPE rows: one scope a part


def _stopped_after_first_part(config: Path, file: Path, ready: Path) -> None:
    """`atri --config CONFIG memory import FILE`, in parts of one scope, that stops for
    good (until killed) once its first part is committed."""
    from atri.cli import app
    from model.memory import backup as backups

    backups.IMPORT_PART_ROWS = PER_SCOPE
    write_part = backups._write_part

    async def write_then_wait(self: Memory, *args: Any, **kwargs: Any) -> bool:
        stopped = await write_part(self, *args, **kwargs)
        ready.touch()
        time.sleep(120)  # the whole process stands still, as one about to be killed
        return stopped

    backups._write_part = write_then_wait
    app(["--config", str(config), "memory", "import", str(file)])


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")
    file = tmp_path / "big_backup.json"
    file.write_text(json.dumps(big_backup(SCOPES, PER_SCOPE)), encoding="utf-8")
    return config, file


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if MARKER_INFIX in p.name)


def killed_import(config: Path, file: Path) -> str:
    """Run the import in a process of its own, check that `list` says nothing of it while
    it runs, then SIGKILL it. What `list` said while it ran."""
    ready = config.parent / "ready"
    args = (config, file, ready)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.model.memory.test_import_marker_s71", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the import wrote no part"
            time.sleep(0.05)
        code, while_running = atri(config, "memory", "list")
        assert code == 0, while_running
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return while_running


def test_a_killed_import_is_named_by_list_the_worker_and_completed_by_the_next_import(
    setup: tuple[Path, Path], echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    config, file = setup
    db = config.parent / "mem.sqlite3"
    command = f"atri --config {config.resolve()} memory import {file.resolve()}"

    while_running = killed_import(config, file)
    assert "did not finish" not in while_running  # another import running now is no news
    assert stored(db) == PER_SCOPE  # the first part, committed before the kill
    assert len(markers(config.parent)) == 1

    code, listed = atri(config, "memory", "list")
    listed = " ".join(listed.split())  # rich wraps a long line
    assert code == 0
    assert f"An `atri memory import` of {file.resolve()} started at " in listed
    assert (
        f"did not finish (the process was killed): run it again to complete it (`{command}`)"
        in listed
    )
    assert "what it stored is kept." in listed
    assert "qq:user:0" in listed

    echo_settings.memory.path = str(db)

    async def start_worker() -> None:
        async with await ChatService.open(echo_settings):
            pass

    with caplog.at_level(logging.WARNING, logger="model.service"):
        asyncio.run(start_worker())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    killed = [w for w in warnings if "did not finish" in w]
    assert len(killed) == 1 and killed[0] in listed  # as `list` says it

    code, again = atri(config, "memory", "import", str(file))
    again = " ".join(again.split())
    assert code == 0, again
    assert f"Completing the import of {file.resolve()} that started at " in again
    assert "did not finish (the process was killed); what it stored is skipped." in again
    assert f"Imported {(SCOPES - 1) * PER_SCOPE} messages" in again
    assert stored(db) == SCOPES * PER_SCOPE
    assert markers(config.parent) == []
    code, listed = atri(config, "memory", "list")
    assert "did not finish" not in listed


def test_a_killed_import_of_another_file_is_still_named_by_the_next_import(
    setup: tuple[Path, Path],
) -> None:
    config, file = setup
    killed_import(config, file)
    other = config.parent / "other.json"
    other.write_text(json.dumps(big_backup(1, PER_SCOPE)), encoding="utf-8")

    code, out = atri(config, "memory", "import", str(other))
    out = " ".join(out.split())
    assert code == 0, out
    assert f"An `atri memory import` of {file.resolve()} started at " in out
    assert len(markers(config.parent)) == 1  # the killed import's, until it is run again


def test_an_import_that_ends_leaves_no_marker_and_marks_while_it_writes(
    setup: tuple[Path, Path],
) -> None:
    config, file = setup
    from model.memory import backup as backups

    seen: list[list[str]] = []
    write_part = backups._write_part

    async def watched(self: Memory, *args: Any, **kwargs: Any) -> bool:
        seen.append(markers(config.parent))
        return await write_part(self, *args, **kwargs)

    backups._write_part = watched
    try:
        code, out = atri(config, "memory", "import", str(file))
    finally:
        backups._write_part = write_part
    assert code == 0, out
    assert "did not finish" not in out
    assert len(seen) == 1 and len(seen[0]) == 1  # marked while it wrote
    assert markers(config.parent) == []
    # A re-import that adds nothing writes no marker either.
    code, out = atri(config, "memory", "import", str(file))
    assert code == 0 and "already stored, skipped: 40 messages" in out
    assert markers(config.parent) == []


def test_an_import_stopped_after_a_part_says_so_and_leaves_no_marker(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after a committed part is told by the import itself (`ImportStopped`):
    no marker is left to tell it again."""
    config, file = setup
    from model.memory import backup as backups

    monkeypatch.setattr(backups, "IMPORT_PART_ROWS", PER_SCOPE)
    write_part = backups._write_part
    calls: list[int] = []

    async def failing(self: Memory, *args: Any, **kwargs: Any) -> bool:
        calls.append(len(markers(config.parent)))
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return await write_part(self, *args, **kwargs)

    monkeypatch.setattr(backups, "_write_part", failing)
    code, out = atri(config, "memory", "import", str(file))
    assert code == 1
    assert "run it again to import the rest" in " ".join(out.split())
    assert calls == [1, 1]  # marked while it wrote
    assert markers(config.parent) == []


if __name__ == "__main__":
    _stopped_after_first_part(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

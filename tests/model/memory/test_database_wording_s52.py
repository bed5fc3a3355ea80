"""What a full disk and a read-only memory file say. A running worker told its log to
"run it again", though it writes again by itself once there is space; a memory file of
mode 444 was said to be in a folder that cannot be written."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from atri.errors import UserError
from model.memory.database import FailureLog, check_database_path, database_error


def disk_full() -> sqlite3.Error:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    return exc


def test_a_running_worker_says_she_remembers_again_once_there_is_space(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test_database_wording_s52")
    with caplog.at_level(logging.ERROR, logger=log.name):
        FailureLog(tmp_path / "m.sqlite3", log).report(disk_full(), "write", "A chat was lost.")
    [said] = [r.getMessage() for r in caplog.records]
    assert "free some space on its disk; she remembers again once there is space." in said
    assert "run it again" not in said


def test_a_command_run_once_still_says_run_it_again(tmp_path: Path) -> None:
    said = str(database_error(tmp_path / "m.sqlite3", disk_full(), "write"))
    assert said.endswith("free some space on its disk and run it again.")
    running = str(database_error(tmp_path / "m.sqlite3", disk_full(), "write", running=True))
    assert running.endswith("; she remembers again once there is space.")


def test_a_read_only_memory_file_is_said_to_be_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o444)
    real_access = os.access
    # root may write whatever the mode says: read the mode as a user would meet it.
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode: real_access(p, mode) and not (Path(p) == path and mode & os.W_OK),
    )
    with pytest.raises(UserError) as caught:
        check_database_path(path)
    said = str(caught.value)
    assert said.startswith(f"[memory] path {path} is a read-only file")
    assert "chmod u+w" in said and "cannot be written" not in said


def test_a_folder_that_cannot_be_written_is_still_said_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.sqlite3"
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path)
    with pytest.raises(UserError) as caught:
        check_database_path(path)
    assert "cannot be written; point it at a database file in a folder" in str(caught.value)

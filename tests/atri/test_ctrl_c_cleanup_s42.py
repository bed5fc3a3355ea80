"""Ctrl-C in a command that cleans up, sent to a real `atri` process: `Stopped (Ctrl-C).`,
status 130, and the command's own cleanup done.

`atri eval --recall` left its scratch folder (the recall database) behind: once the task
was cancelled, an idle worker of the event loop's thread pool counted as a thread that
would hold the exit, so the process ended at once, skipping the `with` that removes it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from atri.interrupt import INTERRUPTED
from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")

ECHO_CONFIG = '[model]\nengine = "echo"\n[memory]\npath = "memory.sqlite3"\n'


def assert_stopped(returncode: int, err: str) -> None:
    assert (returncode, err.splitlines()) == (130, [INTERRUPTED]), (returncode, err)


def messages_stored(scratch: Path) -> bool:
    """Whether the recall run has stored an exchange in its scratch database yet."""
    for database in scratch.glob("*/recall.sqlite3"):
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
                return bool(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.Error:  # not created yet
            return False
    return False


def test_ctrl_c_in_eval_recall_removes_its_scratch_folder(tmp_path: Path) -> None:
    """Sent once the recall probes are talking (the loop's thread pool has fitted prompts):
    its workers sit idle, and nothing else would hold the exit."""
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = atri("eval", "--recall", "--recall-filler", "100000")
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**ENV, "TMPDIR": str(scratch)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not messages_stored(scratch):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the recall probes never started"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert_stopped(process.returncode, err)
    assert list(scratch.iterdir()) == []

"""Session 75: an ssh session closed under a running `atri` (no nohup, no tmux).

Its terminal hangs up: the kernel sends SIGHUP, which a service takes as SIGTERM
(`Stopped (SIGHUP).`, tests/atri/test_operator_failures_s74.py). But every write to that
terminal now fails with EIO, the stop line included: the worker ended with status 1 and
a traceback (to nowhere) instead of 0 once the replies in flight were done, and the
console chat died in rich's write. Both now end as SIGHUP asks, status 0, with their
memory closed as on any stop. Real processes on a real pseudo-terminal that is their
controlling terminal, as sshd's is.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import sqlite3
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri
from tests.atri.test_operator_failures_s74 import DATABASE, worker_config
from tests.atri.test_sigterm_s70 import START_TIMEOUT
from tests.bot.qq.test_serve_e2e import _free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")


def on_a_terminal(args: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`args` in a session of its own whose controlling terminal is a new pty (stdin,
    stdout and stderr on it); the pty's other end, which closing hangs the terminal up."""
    controller, terminal = pty.openpty()

    def take_the_terminal() -> None:  # what a login shell's session leader does
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        args,
        cwd=folder,
        env=ENV,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=take_the_terminal,
    )
    os.close(terminal)
    return process, controller


def read_until(
    controller: int, process: subprocess.Popen[bytes], said: bytes, times: int = 1
) -> bytes:
    seen = b""
    deadline = time.monotonic() + START_TIMEOUT
    while seen.count(said) < times:
        assert process.poll() is None and time.monotonic() < deadline, seen
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            seen += os.read(controller, 65536)
    return seen


def hung_up(process: subprocess.Popen[bytes], controller: int) -> int:
    """Close the terminal (the ssh session ends) and wait for the process to end."""
    os.close(controller)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_worker_whose_terminal_hangs_up_stops_with_status_0(tmp_path: Path) -> None:
    config = worker_config(tmp_path, _free_port())
    worker, controller = on_a_terminal(atri("-c", str(config), "worker"), tmp_path)
    read_until(controller, worker, b"listening on")
    assert hung_up(worker, controller) == 0
    with sqlite3.connect(tmp_path / DATABASE) as db:  # closed cleanly: it opens and reads
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_console_chat_whose_terminal_hangs_up_keeps_what_was_said(tmp_path: Path) -> None:
    config = worker_config(tmp_path, _free_port())
    chat, controller = on_a_terminal(atri("-c", str(config), "chat"), tmp_path)
    read_until(controller, chat, b"Commands:")
    os.write(controller, b"see you tomorrow\r")
    read_until(controller, chat, b"see you tomorrow", times=2)  # typed, then her echo
    time.sleep(0.5)
    assert hung_up(chat, controller) == 0
    with sqlite3.connect(tmp_path / DATABASE) as db:
        said = [row[0] for row in db.execute("SELECT content FROM messages ORDER BY id")]
    assert said[:1] == ["see you tomorrow"] and len(said) == 2, said


def test_a_disks_eio_with_the_terminal_there_is_not_a_hangup() -> None:
    """A file system's EIO (a failing disk) still ends in its own error, not in silence."""
    script = (
        "import errno, sys; from atri.interrupt import lost_terminal; "
        "print(lost_terminal(OSError(errno.EIO, 'Input/output error')), "
        "lost_terminal(OSError(errno.ENOSPC, 'No space left on device')))"
    )
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=ENV,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=True,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.stdout.split() == [b"False", b"False"]

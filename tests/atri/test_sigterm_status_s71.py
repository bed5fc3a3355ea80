"""Session 71: SIGTERM (`systemctl stop`, `docker stop`, `kill`) ended every `atri` command
with status 0. For a service that is right (stopping is all it is asked to do), but a
batch command stopped before its work was done said "done": `atri prep ... && atri train`
went on to train on a dataset never written, and a cron job counted it a success. Now a
stopped batch command exits 143 (128 + 15, the shell's); `serve`, `worker` and `chat` 0.

Each signal is sent once the command handles SIGTERM (read from /proc, Linux): before
that, Python's default ends the process by the signal itself, whatever the command is.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from atri.interrupt import TERMINATED
from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri
from tests.atri.test_ctrl_c_cleanup_s42 import ECHO_CONFIG
from tests.atri.test_sigterm_s70 import FIXTURES, START_TIMEOUT, started, terminated

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc")


def handles_sigterm(pid: int) -> bool:
    """Whether the process has a handler of its own for SIGTERM (its SigCgt mask)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def wait_until_it_handles_sigterm(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not handles_sigterm(process.pid):
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, "never handled SIGTERM"
        time.sleep(0.01)


def big_script(path: Path) -> Path:
    """A script long enough that prep is still reading it when the signal comes."""
    lines = [
        line
        for line in (FIXTURES / "plain_zh.txt").read_text(encoding="utf-8").splitlines()
        if "：" in line
    ]
    path.write_text(
        "".join(f"{line}{n}\n" for n in range(20_000) for line in lines), encoding="utf-8"
    )
    return path


def test_sigterm_to_prep_exits_143_and_writes_no_dataset(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    script = big_script(tmp_path / "script.txt")
    log = tmp_path / "prep.log"
    prep = started(atri("prep", str(script), "--out", "dataset"), tmp_path, log)
    wait_until_it_handles_sigterm(prep, log)
    lines = terminated(prep, log)
    assert (prep.returncode, lines[-1:]) == (143, [TERMINATED]), (prep.returncode, lines)
    assert not any("Traceback" in line for line in lines), lines
    assert not (tmp_path / "dataset" / "dataset_info.json").exists()


def test_sigterm_to_chat_exits_0(tmp_path: Path) -> None:
    """A service stopped as asked: systemd would mark a unit exiting 143 failed."""
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    log = tmp_path / "chat.log"
    with log.open("wb") as out:
        chat = subprocess.Popen(
            atri("chat"),
            cwd=tmp_path,
            env=ENV,
            stdin=subprocess.PIPE,  # open: she waits for a line, as in a terminal
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_it_handles_sigterm(chat, log)
        lines = terminated(chat, log)
    finally:
        assert chat.stdin is not None
        chat.stdin.close()
    assert (chat.returncode, lines[-1:]) == (0, [TERMINATED]), (chat.returncode, lines)
    assert not any("Traceback" in line for line in lines), lines

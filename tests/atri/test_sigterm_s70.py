"""Session 70: SIGTERM (`systemctl stop`, `docker stop`, `kill`) sent to a real `atri`.

`atri serve` with QQ died with status 143 and no line once uvicorn had shut NoneBot down
(uvicorn took the signal, then raised it again: Python's default action ended the process
before the service closed); with Discord alone it died at once. `atri eval --recall` left
its scratch database in /tmp. `atri prep` said `Stopped (Ctrl-C).` and exited 130, which
systemd counts as a failed stop. Now SIGTERM stops a command as the first Ctrl-C does,
said as itself, `Stopped (SIGTERM).`, with status 0; Ctrl-C is as it was.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atri.interrupt import INTERRUPTED, TERMINATED
from bot.serve import STOPPING
from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri
from tests.atri.test_ctrl_c_cleanup_s42 import ECHO_CONFIG, messages_stored
from tests.bot.qq.test_serve_e2e import _free_port

FIXTURES = Path(__file__).resolve().parents[1] / "dataprep" / "fixtures"
START_TIMEOUT = 120.0


def started(
    command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env or ENV,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(process: subprocess.Popen[bytes], log: Path, said: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while said not in log.read_text(encoding="utf-8", errors="replace"):
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, f"never said {said!r}"
        time.sleep(0.05)


def terminated(process: subprocess.Popen[bytes], log: Path) -> list[str]:
    """SIGTERM, then the process's lines once it ended."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return log.read_text(encoding="utf-8", errors="replace").splitlines()


def assert_stopped_by_sigterm(
    process: subprocess.Popen[bytes], lines: list[str], status: int = 0
) -> None:
    """`status`: 0 for a service, 143 for a command stopped before its work was done."""
    assert (process.returncode, lines[-1:]) == (status, [TERMINATED]), (process.returncode, lines)
    assert not any("Traceback" in line for line in lines), lines


def serve_config(tmp_path: Path, qq: bool) -> Path:
    config = tmp_path / "config.toml"
    port = _free_port()
    config.write_text(
        f"{ECHO_CONFIG}[qq]\nenabled = {'true' if qq else 'false'}\nport = {port}\n",
        encoding="utf-8",
    )
    return config


def test_sigterm_to_serve_with_qq_closes_the_service_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    serve = started(atri("-v", "-c", str(serve_config(tmp_path, qq=True)), "serve"), tmp_path, log)
    wait_for(serve, log, "Application startup complete")
    lines = terminated(serve, log)
    assert_stopped_by_sigterm(serve, lines)
    # Said when the signal came, before the wait for NoneBot's shutdown (uvicorn took the
    # signal itself, and this line came only once it had shut down).
    said = [line for line in lines if STOPPING in line or "Shutting down" in line]
    assert len(said) == 2 and STOPPING in said[0], lines
    assert any("Application shutdown complete" in line for line in lines), lines  # NoneBot's
    # The memory database was closed: SQLite removes its write-ahead log then.
    assert (tmp_path / "memory.sqlite3").exists()
    assert not (tmp_path / "memory.sqlite3-wal").exists()


def test_sigterm_to_serve_with_discord_alone_closes_the_service(tmp_path: Path) -> None:
    """Discord cannot be reached here: the adapter is retrying when the signal comes."""
    log = tmp_path / "serve.log"
    env = {**ENV, "ATRI_DISCORD_TOKEN": "not-a-real-token"}
    command = atri("-c", str(serve_config(tmp_path, qq=False)), "serve")
    serve = started(command, tmp_path, log, env)
    wait_for(serve, log, "Discord")
    lines = terminated(serve, log)
    assert_stopped_by_sigterm(serve, lines)
    assert any(STOPPING in line for line in lines), lines
    assert not (tmp_path / "memory.sqlite3-wal").exists()


def test_sigterm_to_eval_recall_removes_its_scratch_folder(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    log = tmp_path / "eval.log"
    command = atri("eval", "--recall", "--recall-filler", "100000")
    evaluation = started(command, tmp_path, log, {**ENV, "TMPDIR": str(scratch)})
    deadline = time.monotonic() + START_TIMEOUT
    while not messages_stored(scratch):
        assert evaluation.poll() is None, log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "the recall probes never started"
        time.sleep(0.02)
    assert_stopped_by_sigterm(evaluation, terminated(evaluation, log), status=143)
    assert list(scratch.iterdir()) == []


# `atri prep` through the entry point, the signal sent to itself as the command enters
# the block where SIGTERM unwinds as Ctrl-C (its files about to be moved in).
SIGNALLED_PREP = """
import os, signal, sys
from atri import interrupt
from atri.__main__ import main

entered = interrupt.sigterm_as_interrupt.__enter__

def enter(self):
    done = entered(self)
    os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL"]))
    return done

interrupt.sigterm_as_interrupt.__enter__ = enter
sys.argv = ["atri", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    ("signame", "status", "line"),
    [("SIGTERM", 143, TERMINATED), ("SIGINT", 130, INTERRUPTED)],
    ids=["SIGTERM", "Ctrl-C as before"],
)
def test_a_stopped_prep_names_the_signal(
    tmp_path: Path, signame: str, status: int, line: str
) -> None:
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    script = FIXTURES / "plain_zh.txt"
    done = subprocess.run(
        [sys.executable, "-c", SIGNALLED_PREP, "prep", str(script), "--out", "dataset"],
        cwd=tmp_path,
        env={**ENV, "SIGNAL": signame},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr.splitlines()[-1:]) == (status, [line]), done.stderr
    assert not (tmp_path / "dataset").exists()

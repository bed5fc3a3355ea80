"""Ctrl-C while `atri worker` starts, as a person sends it: while Python imports the CLI,
and while the model loads (torch and transformers import on the loading thread). Each
is status 130 and one short line, at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atri.errors import INTERRUPTED

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300", "PYTHONPATH": str(REPO)}


def write_config(tmp_path: Path, base: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{base}"\nengine = "local"\n[worker]\nport = 0\n'
        '[memory]\npath = "memory.sqlite3"\n',
        encoding="utf-8",
    )
    return config


def start(config: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "worker"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def stopped(worker: subprocess.Popen[str]) -> tuple[float, str, str]:
    """Ctrl-C now: (seconds until the process ended, its stdout, its stderr)."""
    sent = time.monotonic()
    worker.send_signal(signal.SIGINT)
    try:
        out, err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    return time.monotonic() - sent, out, err


def test_ctrl_c_while_the_model_loads_ends_at_once_with_one_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The process ended silently, and only once the loading thread had finished: the
    imports here (seconds), the weights of a 7B model (minutes)."""
    worker = start(write_config(tmp_path, tiny_model_dir), tmp_path)
    assert worker.stdout is not None
    while "loading the model" not in worker.stdout.readline():
        assert worker.poll() is None, worker.communicate()
    time.sleep(0.5)  # in the event loop, the loading thread started
    took, _, err = stopped(worker)
    assert worker.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert took < 5, f"{took:.1f} s after Ctrl-C"


@pytest.mark.parametrize("delay", [0.3, 0.8])
def test_ctrl_c_while_the_cli_imports_is_one_line(
    tmp_path: Path, tiny_model_dir: Path, delay: float
) -> None:
    """Before the command ran (pydantic, typer and rich importing: a second here), it was
    Python's traceback of whichever import it landed in."""
    worker = start(write_config(tmp_path, tiny_model_dir), tmp_path)
    time.sleep(delay)
    _, out, err = stopped(worker)
    assert worker.returncode == 130, err
    assert "Traceback" not in err
    assert INTERRUPTED in err.splitlines()
    assert "listening on" not in out

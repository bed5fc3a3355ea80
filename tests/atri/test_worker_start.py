"""`atri worker` says where it is listening (the free port it took for port 0), and\nsays it only once a client can connect."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def start_worker(config: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "worker"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300", "PYTHONPATH": str(REPO)},
    )


def lines_until_listening(worker: subprocess.Popen[str]) -> list[str]:
    """What the worker printed up to its listening line."""
    assert worker.stdout is not None
    seen = []
    for line in worker.stdout:
        seen.append(line)
        if "listening on" in line:
            break
    return seen


def stop(worker: subprocess.Popen[str], timeout: float) -> None:
    """Ctrl+C, as a user stops it; killed if it has not stopped within `timeout`."""
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=timeout)
    finally:
        worker.kill()


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_listening_line_comes_once_the_worker_answers(tmp_path: Path, host: str) -> None:
    config = tmp_path / "config.toml"
    # Port 0: any free one, and the line says which.
    config.write_text(
        f'[model]\nengine = "echo"\n[worker]\nhost = "{host}"\nport = 0\n', encoding="utf-8"
    )
    worker = start_worker(config, tmp_path)
    try:
        seen = lines_until_listening(worker)
        # Every interface (0.0.0.0) is no address to connect to: the line gives one that is.
        match = re.search(r" (http://127\.0\.0\.1:(\d+)) ", seen[-1])
        assert match, "".join(seen)
        assert "0.0.0.0" not in seen[-1]
        assert ("every network interface" in seen[-1]) is (host == "0.0.0.0")
        port = int(match[2])
        assert port > 0
        # At once, with no retry: the socket listens (a bare connect, the quickest thing
        # a client can do, was refused when the line came before uvicorn listened) ...
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        # ... and the app answers.
        response = httpx.get(f"{match[1]}/health", timeout=10)
        assert response.status_code == 200, response.text
    finally:
        stop(worker, timeout=20)
    # Ctrl-C's status, as `atri serve` and `chat` end by it (SIGTERM's is 0: s73).
    assert worker.returncode == 130


def test_without_verbose_the_worker_says_which_adapter_version_went_live(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The default log level hides INFO, and so hid the reload job's one line per change:
    a worker at default verbosity never said which version it serves."""
    from tests.model.adapters.make_versions import base_config_hash, write_version

    version = "20250101-000001"
    adapters = tmp_path / "adapters"
    base = str(tiny_model_dir)
    write_version(
        adapters,
        version,
        tiny_model_dir,
        base_model=base,
        config_hash=base_config_hash(tiny_model_dir),
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nengine = "local"\nbase = "{base}"\nadapters_dir = "{adapters}"\n'
        '[generation]\ndo_sample = false\nmax_new_tokens = 8\n[ooc]\nlanguage = "any"\n'
        "[worker]\nport = 0\nooc_max_retries = 0\n[reload]\nenabled = true\n",
        encoding="utf-8",
    )
    worker = start_worker(config, tmp_path)
    try:
        seen = lines_until_listening(worker)
    finally:
        stop(worker, timeout=60)
    said = "".join(seen)
    # The version goes live at start, before the worker listens: one line says so.
    assert said.count(f"adapter reload: Now serving adapter version {version}") == 1, said
    # As `atri serve` and `atri chat`: no transformers loading bar or deprecation notes.
    assert "Loading weights" not in said and "Warning" not in said, said
    assert "up (loading the model)…" in said

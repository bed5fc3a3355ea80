"""A slip in NoneBot's own settings beside `atri serve` (a .env in the working folder, or
the environment: `SUPERUSERS=1,2`, `PORT=abc`) stopped QQ with NoneBot's traceback and
was retried forever; now it is one sentence naming the variable, and the serve stops."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """
[model]
engine = "echo"
[memory]
path = "memory.sqlite3"
[reload]
enabled = false
[qq]
enabled = true
port = {port}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("env_line", "named"),
    [("SUPERUSERS=1,2", 'error parsing env var "superusers"'), ("PORT=abc", "port: Input")],
)
def test_a_slip_in_nonebots_dotenv_is_one_sentence(
    tmp_path: Path, env_line: str, named: str
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG.format(port=free_port()), encoding="utf-8")
    (tmp_path / ".env").write_text(env_line + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRI_", "SUPERUSERS"))}
    done = subprocess.run(
        [sys.executable, "-m", "atri", "serve"],
        cwd=tmp_path,
        env=env | {"COLUMNS": "300"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, said
    assert f"NoneBot could not read its settings ({named}" in said
    assert "Traceback" not in said and "starting it again" not in said

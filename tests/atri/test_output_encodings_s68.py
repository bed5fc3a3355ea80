"""A terminal or file that cannot encode Chinese: `atri prep` ended in a traceback at its
speakers' table (stdout in Latin-1, cp1252, ASCII), and `atri chat` in a GBK terminal
raised at its spinner's first frame (braille) and hung with the service open."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from atri.terminal import spinner_for

SCRIPT = "\n".join(
    line
    for n in range(6)
    for line in (f"# 第{n + 1}章", "夏生：早上好。", "亚托莉：早上好，夏生先生！", "")
)


@pytest.mark.parametrize("encoding", ["latin-1", "ascii", "cp1252"])
def test_prep_to_output_that_cannot_encode_chinese_finishes(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "script.txt").write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": encoding, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "atri", "prep", "script.txt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )
    said = (done.stdout + done.stderr).decode(encoding)
    assert done.returncode == 0, said
    assert "Traceback" not in said and "\\u4e9a" in said  # 亚, escaped, not fatal
    assert (tmp_path / "data" / "dataset" / "atri_sharegpt.json").is_file()


def gbk_terminal() -> Console:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="gbk")
    return Console(file=stream, force_terminal=True, width=60)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_spinner_a_gbk_terminal_can_show() -> None:
    """Rich's "dots" are braille, which GBK cannot encode: its refresh raised."""
    console = gbk_terminal()
    assert spinner_for(console) == "line"
    with console.status("waking", spinner=spinner_for(console)):
        time.sleep(0.2)
    utf8 = Console(file=io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), force_terminal=True)
    assert spinner_for(utf8) == "dots"

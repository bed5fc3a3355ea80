"""QA round 39 on the console: what a terminal really sends `atri chat`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.engines.echo import EchoEngine
from tests.bot.test_console import ENV, chat_in_a_terminal, write_config


def test_a_byte_that_is_not_utf8_is_replaced_and_the_chat_goes_on(tmp_path: Path) -> None:
    """A UTF-8 desktop locale decodes stdin strictly: one Latin-1 byte ("café" typed in
    a terminal set to ISO-8859-1) raised in the reader, which took it for the end of
    input. The chat said "Bye!" at once, and the lines read with it were never sent."""
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input=b"hello\ncaf\xe9 au lait\nstill here?\n/quit\n",
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
        # What Python picks for stdin under en_US.UTF-8 (C.UTF-8 would be lenient).
        env={**ENV, "PYTHONIOENCODING": "utf-8:strict"},
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert EchoEngine.prefix + "hello" in out
    assert EchoEngine.prefix + "caf\ufffd au lait" in out
    assert EchoEngine.prefix + "still here?" in out
    # One sentence says what happened, once, before the answer to that line.
    assert out.count("are not utf-8 text") == 1
    assert out.index(EchoEngine.prefix + "hello") < out.index("are not utf-8 text")
    assert out.index("are not utf-8 text") < out.index(EchoEngine.prefix + "caf")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's terminal driver")
def test_a_line_the_terminal_cut_short_is_said_to_be_cut(tmp_path: Path) -> None:
    """A terminal hands over at most 4,095 bytes of one line and drops the rest of a
    longer one without a word: a pasted Chinese paragraph of 2,000 characters reached
    her as its first 1,365, and the console said nothing."""
    with chat_in_a_terminal(tmp_path) as (keyboard, chat):
        paste = ("长" * 2000 + "\n").encode()
        for start in range(0, len(paste), 1000):  # as a terminal passes a paste on
            os.write(keyboard, paste[start : start + 1000])
            time.sleep(0.05)
        time.sleep(2)  # she has answered it
        os.write(keyboard, b"/quit\n")
        out, _ = chat.communicate(timeout=30)
    flat = out.replace("\n", "")  # her long line is wrapped to the terminal's width
    assert EchoEngine.prefix + "长" * 1365 in flat
    assert "长" * 1366 not in flat
    assert out.count("dropped the rest of a longer one") == 1, out

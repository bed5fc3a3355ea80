"""QA round 39 on the console: what a terminal really sends `atri chat`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model.engines.echo import EchoEngine
from tests.bot.test_console import ENV, write_config


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

"""`atri serve` with neither bot configured chats in the console: it says why, so an
operator whose service lost its token does not see only a chat ending at "Bye!"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.serve import NO_BOT_NOTE
from tests.bot.test_console import ENV, write_config

NO_TOKEN = {k: v for k, v in ENV.items() if k != "ATRI_DISCORD_TOKEN"}


def console_says(tmp_path: Path, command: str) -> str:
    """What `atri COMMAND` prints with no input (a service's), on one line."""
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(write_config(tmp_path)), command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=NO_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_serve_without_a_bot_says_why_it_is_the_console(tmp_path: Path) -> None:
    said = console_says(tmp_path, "serve")
    assert NO_BOT_NOTE in said
    assert "ATRI_DISCORD_TOKEN" in NO_BOT_NOTE and "[qq] enabled" in NO_BOT_NOTE
    assert said.endswith("Bye!")


def test_atri_chat_does_not_say_it(tmp_path: Path) -> None:
    """`atri chat` is the console by choice: no word about bots."""
    assert "No bot is set up" not in console_says(tmp_path, "chat")

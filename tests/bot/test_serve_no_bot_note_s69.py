"""`atri serve` with neither bot configured chats in the console: it says why, so an
operator whose service lost its token does not see only a chat ending at "Bye!"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.serve import NO_BOT_NOTE
from tests.bot.test_console import ENV, write_config


def test_serve_without_a_bot_says_why_it_is_the_console(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    env = {k: v for k, v in ENV.items() if k != "ATRI_DISCORD_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "serve"],
        stdin=subprocess.DEVNULL,  # a service's input: nothing
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert NO_BOT_NOTE in said
    assert "ATRI_DISCORD_TOKEN" in NO_BOT_NOTE and "[qq] enabled" in NO_BOT_NOTE
    assert said.endswith("Bye!")


def test_atri_chat_does_not_say_it(tmp_path: Path) -> None:
    """`atri chat` is the console by choice: no word about bots."""
    config = write_config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    assert "No bot is set up" not in " ".join(result.stdout.split())

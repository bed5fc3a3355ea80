"""A QQ command that fails answers with her error line as the worker speaks it, as a chat
does: beside an English worker, the plugin said its own Chinese line to `/atri status`.

The worker runs here (the real service behind the real HTTP app); the plugin runs in a
plain NoneBot project in a subprocess, reached over a real WebSocket as NapCat reaches it."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from model.character.persona import configured_card_path, load_persona, reply_lines
from tests.bot.qq.test_standalone_qa40 import english_worker, lines_said

__all__ = ["english_worker"]  # the fixture, used here


BOTH = ("你好", "/atri status")  # a chat, then a command


async def test_a_failed_command_says_the_worker_s_line(
    tmp_path: Path, english_worker: Settings
) -> None:
    card = load_persona(configured_card_path(english_worker))
    english = reply_lines(card.in_language("en"), Settings()).error
    assert english != Settings().worker.error_reply
    assert await lines_said(tmp_path, english_worker, BOTH) == [english, english]


async def test_a_failed_command_says_the_project_s_own_line(
    tmp_path: Path, english_worker: Settings
) -> None:
    own = "出错了，稍后再试"
    assert await lines_said(tmp_path, english_worker, BOTH, ATRI_ERROR_REPLY=own) == [own, own]

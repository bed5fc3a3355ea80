"""The QQ plugin in someone's own NoneBot project speaks the bots' own lines (usage,
reset answers, the notes put into her prompt) as the worker's character, in her
language: it learned only her error line from the worker, and every other line named
ATRI in Chinese beside an English Eileen's replies."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from tests.bot.qq.test_standalone_qa40 import english_worker, lines_said

__all__ = ["english_worker"]  # the fixture, shared


async def test_the_usage_names_the_worker_s_character_in_her_language(
    tmp_path: Path, english_worker: Settings
) -> None:
    card = tmp_path / "eileen.toml"
    card.write_text('name = "Eileen"\nlanguage = "en"\n', encoding="utf-8")
    english_worker.persona.card = str(card)
    (usage,) = await lines_said(tmp_path, english_worker, texts=("/atri",))
    assert usage.startswith("Chat with Eileen: in a group, @ Eileen"), usage

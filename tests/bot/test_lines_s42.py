"""The bots' own lines name the character, never "she": cards are men too.

QA found an English card named Mio (a boy) told "@ her", "what she remembers" and
"how she is doing" in /atri's usage and the Discord menu."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from bot.lines import EN, JA, ZH, BotLines, lines_for

# A gendered word for the character, per language ("here", "other" hold "her" but are
# not it; 他 and 彼 would misgender a woman just the same).
GENDERED = {
    "en": re.compile(r"(?i)\b(?:she|her|hers|herself|he|him|his|himself)\b"),
    "zh": re.compile(r"[她他]"),
    "ja": re.compile(r"彼"),
}


@pytest.mark.parametrize(("language", "template"), [("en", EN), ("zh", ZH), ("ja", JA)])
def test_no_line_calls_the_character_she_or_he(language: str, template: BotLines) -> None:
    gendered = {
        f.name: getattr(template, f.name)
        for f in fields(BotLines)
        if GENDERED[language].search(getattr(template, f.name))
    }
    assert gendered == {}


def test_a_male_english_character_is_named_where_she_was_said() -> None:
    said = lines_for("Mio", "en")
    assert said.slash_channel_mode == "How Mio talks in this channel"
    assert said.slash_channel == "Turn Mio on or off in this channel, or on for every message"
    assert said.qq_plugin == "Chat with Mio (a LoRA character model); admins can reset Mio's memory"
    assert said.memory_sent_privately.startswith("Mio sent you")
    usage = said.qq_usage.splitlines()
    assert usage[0] == "Chat with Mio: in a group, @ Mio, start with the name, or reply to a"
    assert "/atri memory — what Mio remembers about you" in said.qq_usage
    assert "/atri status — how Mio is doing" in usage


def test_a_male_chinese_character_is_named_where_she_was_said() -> None:
    said = lines_for("健太", "zh")
    assert said.slash_channel_mode == "健太在这个频道怎么说话"
    assert said.qq_usage.splitlines()[0].startswith(
        "和健太聊天：在群里 @健太、以名字开头，或回复健太的消息"
    )
    assert "/atri status — 健太现在的状态" in said.qq_usage
    assert "{" not in said.qq_usage and "}" not in said.qq_usage

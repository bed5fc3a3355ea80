"""QA round 43: a hard cut (a run with no blank and no sentence end, past a part's size)
keeps whole what shows as one thing: a member asks her for a line of a hundred custom
emoji, or of family emoji, and Discord showed raw `<:pepe:…` text at the cut."""

from __future__ import annotations

import re

import pytest

from bot.discord.text import MESSAGE_LIMIT, outgoing_parts
from bot.qq.text import CUT_MARK, reply_parts
from bot.splitting import split_message

EMOJI = "<:pepe:789012345678901234>"  # 26 characters: no part's size is a multiple
WHOLE = re.compile(r"(?:<:pepe:789012345678901234>)+")


def test_a_run_of_custom_emoji_is_cut_between_two_of_them() -> None:
    parts = outgoing_parts(EMOJI * 100)
    assert len(parts) == 2 and all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert all(WHOLE.fullmatch(part) for part in parts), [part[-30:] for part in parts]
    assert "".join(parts) == EMOJI * 100


@pytest.mark.parametrize(
    "unit",
    ["👨\u200d👩\u200d👧", "🇯🇵", "👍🏽", "e\u0301", "❤\ufe0f"],
    ids=["zwj-family", "flag", "skin-tone", "combining-accent", "variation-selector"],
)
def test_a_hard_cut_never_splits_a_character_from_what_joins_onto_it(unit: str) -> None:
    text = "x" + unit * 40
    parts = split_message(text, 50)
    assert "".join(parts) == text
    assert all(part.lstrip("x").replace(unit, "") == "" for part in parts), parts


def test_a_run_of_joining_marks_alone_is_still_cut_at_the_limit() -> None:
    zalgo = "a" + "\u0301" * 500
    parts = split_message(zalgo, 100)
    assert [len(part) for part in parts] == [100] * 5 + [1]


FAMILY = "👨\u200d👩\u200d👧"  # five characters that show as one


def test_a_code_lines_hard_cut_keeps_an_emoji_whole() -> None:
    block = "```\n" + "a" + FAMILY * 30 + "\n```"
    parts = split_message(block, 40)
    assert len(parts) > 1
    for part in parts:
        code = part.removeprefix("```\n").removesuffix("\n```")
        assert code.lstrip("a").replace(FAMILY, "") == "", parts


def test_a_qq_reply_cut_off_after_its_last_part_keeps_an_emoji_whole() -> None:
    parts = reply_parts("a" + FAMILY * 30, 20, 2)
    assert len(parts) == 2 and parts[-1].endswith(CUT_MARK)
    assert all(p.removesuffix(CUT_MARK).lstrip("a").replace(FAMILY, "") == "" for p in parts)

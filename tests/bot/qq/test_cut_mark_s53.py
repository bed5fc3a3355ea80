"""A QQ reply cut off at `max_reply_parts` ends in the cut mark of the language she speaks
("..." in English, where "……" read as her own ellipsis), and the cut before the mark never
splits a word of Latin letters, a CQ-code look-alike, or an emoji of several code points."""

from __future__ import annotations

import regex

from bot import lines
from bot.qq.text import CUT_MARK, reply_parts, split_reply

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"


def kept_before(mark: str, part: str) -> str:
    assert part.endswith(mark), part
    return part.removesuffix(mark)


def test_an_english_reply_is_cut_between_words_and_marked_with_three_dots() -> None:
    lines.use_character("ATRI", "en")
    for limit in range(20, 60):
        parts, cut_off = split_reply(WORDS, limit, 1)
        kept = kept_before("...", parts[0])
        assert cut_off and len(parts[0]) <= limit
        assert WORDS.startswith(kept) and WORDS[len(kept)] == " ", (limit, kept)


def test_chinese_and_japanese_keep_their_mark() -> None:
    for name, language in (("亚托莉", "zh"), ("アトリ", "ja")):
        lines.use_character(name, language)
        parts = reply_parts("我是高性能的机器人！" * 30, 50, 2)
        assert parts[-1].endswith(CUT_MARK) and not parts[-1].endswith("..." + CUT_MARK)


def test_a_cq_code_look_alike_is_not_cut_in_two() -> None:
    code = "[CQ:face,id=178]"
    text = "好" * 40 + code + "好" * 40
    for limit in range(42, 58):
        kept = kept_before(CUT_MARK, split_reply(text, limit, 1, mark=CUT_MARK).parts[0])
        assert "［CQ" not in kept or kept.endswith("id=178]"), (limit, kept)


def test_an_emoji_of_several_code_points_is_not_cut_in_two() -> None:
    flag, family = "🇯🇵", "👨‍👩‍👧"
    for emoji in (flag, family):
        text = "a" + emoji * 40
        for limit in range(12, 30):
            kept = kept_before("...", split_reply(text, limit, 1, mark="...").parts[0])
            clusters = regex.findall(r"\X", kept)
            assert clusters[0] == "a" and set(clusters[1:]) <= {emoji}, (limit, kept)


def test_a_word_longer_than_the_room_is_still_cut() -> None:
    parts = split_reply("x" * 200, 50, 1, mark="...").parts
    assert parts == ["x" * 47 + "..."]

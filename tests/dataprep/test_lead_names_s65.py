"""The lead's name → {{user}} on another character's scripts: a one-kanji lead (湊) was
never replaced, a lead labelled "Me" replaced the word ("Me too!"), and a Chinese name
that opens a longer dictionary word (安然无恙 for 安然) was cut out of it."""

from __future__ import annotations

import pytest

from dataprep.clean import placeholder_replacer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ありがと。湊くんのそういうところ、好きだよ。",
            "ありがと。{{user}}くんのそういうところ、好きだよ。",
        ),
        ("湊！待って", "{{user}}！待って"),
        ("ねえ湊", "ねえ{{user}}"),
        ("大湊くん", "大湊くん"),  # after a Han character: part of another word
    ],
)
def test_a_one_kanji_lead_is_replaced_where_it_plainly_names_him(text: str, expected: str) -> None:
    assert placeholder_replacer(["湊"])(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("太陽が眩しいね、陽くん", "太陽が眩しいね、{{user}}くん"),
        ("陽が昇る", "陽が昇る"),
    ],
)
def test_a_one_kanji_lead_that_is_a_word_keeps_the_word(text: str, expected: str) -> None:
    assert placeholder_replacer(["陽"])(text) == expected


@pytest.mark.parametrize("text", ["Me too!", "Me? I'm fine.", '"Me first!" she said.', "You!"])
def test_a_lead_labelled_with_a_pronoun_never_replaces_the_word(text: str) -> None:
    assert placeholder_replacer(["MC", "Me", "You"])(text) == text
    assert placeholder_replacer(["MC", "Me"])("MC, hi.") == "{{user}}, hi."
    # A Chinese dump's lead labelled 我: her "我、我难道……" is her own stammer.
    assert (
        placeholder_replacer(["我", "僕"])("我、我难道又下错单了……？僕！")
        == "我、我难道又下错单了……？僕！"
    )


def test_a_chinese_name_opening_a_longer_word_is_left_in_it() -> None:
    replace = placeholder_replacer(["安然"])
    assert replace("你能安然无恙地回来吗？") == "你能安然无恙地回来吗？"
    assert replace("安然，你回来了。是安然的错。") == "{{user}}，你回来了。是{{user}}的错。"

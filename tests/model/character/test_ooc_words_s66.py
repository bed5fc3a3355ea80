"""English replies judged fairly: Romanised Japanese is no swearing, and the commonest
assistant sign-off and "an A.I." are out of character."""

from __future__ import annotations

import pytest

from atri.config import OOCSettings
from model.character.ooc import OOCDetector

DETECTOR = OOCDetector(OOCSettings(), "en")


@pytest.mark.parametrize(
    "reply",
    ["Natsuki-san, hashitte! We're late!", "Kaito, that's a mishit.", "Scunthorpe United!"],
)
def test_a_listed_latin_word_inside_another_word_is_no_swearing(reply: str) -> None:
    assert DETECTOR.check(reply).reasons == ()


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Oh shit, the crab!", "profanity 'shit'"),
        ("This is shitty.", "profanity 'shit'"),
        ("Is there anything else I can help you with?", "assistant-speak"),
        ("I'm an A.I., you know.", "self-reference"),
        ("Ain’t it nice?", 'dialect "ain\'t"'),
    ],
)
def test_out_of_character_english_is_still_found(reply: str, reason: str) -> None:
    assert any(r.startswith(reason) for r in DETECTOR.check(reply).reasons), reply


def test_chinese_and_japanese_words_are_found_anywhere() -> None:
    zh = OOCDetector(OOCSettings(), "zh")
    assert zh.check("你他妈的").reasons == ("profanity '妈的'", "profanity '他妈'")

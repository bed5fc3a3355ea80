"""QA 39: what a small model writes for a group's summary, checked before it is kept."""

from __future__ import annotations

import pytest

from model.memory import Message
from model.summaries import LABELS, is_summary_of, notes, plan_fold, transcript

SAID = "夏生：我的猫叫Mochi，它今天生病了\n亚托莉：真可怜，要带它去看医生哦\n小红：我明天要去大阪找姐姐"
SPEAKERS = ("亚托莉", "夏生", "小红")


@pytest.mark.parametrize(
    "answer",
    [
        "**夏生**：我的猫叫Mochi，它今天生病了",
        "- **小红**: 我明天要去大阪找姐姐",
        "【夏生】：我的猫叫Mochi生病了",
        "> 亚托莉：真可怜，要带它去看医生哦",
        "夏生 ：我的猫叫Mochi生病了",
        "他们聊了猫。\n  **小红** ： 我明天要去大阪找姐姐",
    ],
)
def test_a_transcript_line_in_markdown_dress_is_no_summary(answer: str) -> None:
    """A small model copies the transcript with its labels bolded, bracketed or quoted
    ("**夏生**：…"); only the bare `夏生：` was caught, so such a continuation (her own
    lines included) was stored as the summary that leads every later prompt."""
    assert not is_summary_of(answer, SAID, SPEAKERS)


def test_a_summary_naming_people_is_still_one() -> None:
    assert is_summary_of(
        "夏生说他的猫叫Mochi，今天生病了。小红明天要去大阪找姐姐。", SAID, SPEAKERS
    )
    assert is_summary_of("**夏生**的猫Mochi今天生病了；小红明天要去大阪找姐姐。", SAID, SPEAKERS)


def test_a_chinese_talk_summed_up_in_english_is_no_summary() -> None:
    """A small model (the offline one knows English only) answers a Chinese group's
    summary request in English; with the names and numbers it copies ("Aya", "Mochi",
    "13800138000"), enough of its words were "said" to pass, and an English line led
    every later prompt of a character who speaks Chinese."""
    said = "Aya：我的猫叫Mochi，它今天生病了\n亚托莉：真可怜\nAya：我的电话是13800138000"
    speakers = ("Aya", "亚托莉")
    assert not is_summary_of("Aya has a cat named Mochi.", said, speakers)
    assert not is_summary_of("Aya's phone: 13800138000, cat Mochi", said, speakers)
    assert is_summary_of("Aya的猫Mochi生病了，电话13800138000", said, speakers)
    # An English talk is still summed up in English, names and all.
    english = "Aya: my cat Mochi is ill today\nATRI: poor Mochi"
    assert is_summary_of("Aya says her cat Mochi is ill today.", english, ("Aya", "ATRI"))


def test_two_people_of_one_name_stay_two_in_the_transcript_and_the_notes() -> None:
    """The transcript she summarizes, and the notes kept when her answer is no summary,
    named two members called 小明 alike: the summary leading every later prompt then
    gave one of them the other's cat."""

    def said(role: str, user: str, name: str, content: str) -> Message:
        return Message(0, "qq:chan:g1", role, user, name, content, 0.0, "", False)

    exchanges = [
        [
            said("user", "101", "小明", "我家有一只猫叫Mochi"),
            said("assistant", "", "亚托莉", "好可爱"),
        ],
        [said("user", "202", "小明", "我对猫过敏"), said("assistant", "", "亚托莉", "那要小心")],
        [said("user", "303", "小红", "我住在大阪"), said("assistant", "", "亚托莉", "真好")],
    ]
    labels = LABELS["zh"]
    assert transcript(exchanges, "亚托莉", labels).splitlines()[::2] == [
        "小明(101)：我家有一只猫叫Mochi",
        "小明(202)：我对猫过敏",
        "小红：我住在大阪",
    ]
    assert notes(exchanges, labels).splitlines() == [
        "小明(101)：我家有一只猫叫Mochi",
        "小明(202)：我对猫过敏",
        "小红：我住在大阪",
    ]
    # A transcript line copied under either label is still no summary.
    plan = plan_fold(
        None, [m for e in exchanges for m in e], 2, "总结", "亚托莉", labels, len, 10_000
    )
    assert plan is not None and not is_summary_of(
        "小明(202)：我对猫过敏", plan.transcript, plan.speakers
    )

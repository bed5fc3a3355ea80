"""QA pass 39: what a fan's real script holds. Chapter headings before a colon, Traditional
Chinese alias tags in KiriKiri, Ren'Py translations matched by their identifier, and the
small things each engine's scripts do."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, parse
from dataprep.records import Utterance


def said(utterances: list[Utterance]) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in utterances]


# 1. A chapter heading before a colon names nobody ----------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "第三章\u3000海边：夏天来了",
        "第三章 海边：夏天来了",
        "第三章：夏天来了",
        "第12话\u3000祭典：开始",
        "第十二話：祭り",
        "序章\u3000开始：那一天",
        "终章：再见",
        "Chapter 3\u3000Beach: the sea",
        "Chapter 3: Home",
        "Scene 2 Night: the stars",
        "Act II: Home",
        "Prologue: It begins",
    ],
)
def test_a_chapter_heading_before_a_colon_is_narration(line: str) -> None:
    # It gave a speaker "第三章 海边" (the U+3000 became a space inside a name).
    assert said(parse(line, "x", "plain", ParseOptions())) == [(None, line)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("神\u3000奈：你好", ("神 奈", "你好")),
        ("斑鳩\u3000夏生：嗯", ("斑鳩 夏生", "嗯")),
        ("Partner: hi", ("Partner", "hi")),
        ("Day Lily: hi", ("Day Lily", "hi")),
        ("Actor: hi", ("Actor", "hi")),
        ("第五：姓第五的人", ("第五", "姓第五的人")),
    ],
)
def test_names_that_look_a_little_like_headings_stay_speakers(
    line: str, expected: tuple[str, str]
) -> None:
    assert said(parse(line, "x", "plain", ParseOptions())) == [expected]


@pytest.mark.parametrize(
    ("fmt", "heading"),
    [
        ("plain", "第三章："),
        ("plain", "【第三章\u3000海边】"),
        ("plain", "【第三章 海边】："),
        ("kirikiri", "【第三章\u3000海边】"),
    ],
)
def test_a_chapter_heading_alone_names_nobody_below(fmt: str, heading: str) -> None:
    # The quoted line below was said by "第三章" / "第三章 海边".
    found = said(parse(f"{heading}\n「你好」\n", "x", fmt, ParseOptions()))
    assert found[-1] == (None, "「你好」")
    assert all(speaker is None for speaker, _ in found)

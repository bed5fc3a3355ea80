"""Session 52: lines of real scripts the plain reader took for a speaker's — narration
that opens with a word and a quote (`脑海里闪过“迟到”二字…`), CatSystem2's ruby
`[夏子/なつこ]さん…` and ONScripter's `csp 5:csp 6` commands — and the said lines it must
still read (a name and a quote that is the whole line, page marks after it or not)."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, parse
from dataprep.records import Utterance


def read(text: str) -> list[Utterance]:
    return parse(text, "d.txt", "plain", ParseOptions())


def pairs(text: str) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in read(text)]


@pytest.mark.parametrize(
    "line",
    [
        "亚托莉“嗯”了一声，点了点头。",
        "亚托莉「好的」地回答，跟了上来。",
        "脑海里闪过“迟到”二字，后背立刻传来一阵冷意。",
        "俺にとっては『悪友』の一言がふさわしい。",
        'Jessica "Why?!" she asked.',
    ],
)
def test_a_quote_closed_before_more_words_is_narration(line: str) -> None:
    assert pairs(f"夏生：「走吧」\n{line}\n") == [("夏生", "「走吧」"), (None, line)]


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("亚托莉「早上好」", "「早上好」"),
        ("亚托莉“早上好”", "“早上好”"),
        ("亚托莉「他说『你好』」", "「他说『你好』」"),
        ("恋「だって！」\\@", "「だって！」\\@"),  # CatSystem2's page-end mark
        ("恋「快起来」\\", "「快起来」\\"),  # ONScripter's
        ("恋「快起来」[p]", "「快起来」[p]"),
        ('Jessica "Why?!"', '"Why?!"'),
    ],
)
def test_a_name_and_a_quote_that_is_the_line_is_said(line: str, said: str) -> None:
    speaker = line.split("「")[0].split("“")[0].split('"')[0].strip()
    assert pairs(f"{line}\n") == [(speaker, said)]


def test_a_quote_wrapped_onto_the_next_line_is_still_said() -> None:
    assert pairs("亚托莉「今天的天气\n真好啊」\n") == [("亚托莉", "「今天的天气真好啊」")]


def test_a_kana_reading_in_brackets_before_text_is_ruby_in_narration() -> None:
    assert pairs("[夏子/なつこ]さんとのやり取りも毎度の事。\n") == [
        (None, "夏子さんとのやり取りも毎度の事。")
    ]


@pytest.mark.parametrize(
    ("line", "speaker", "said"),
    [
        ("[夏子/なつこ]「おはよう」", "夏子/なつこ", "「おはよう」"),
        ("[夏子/なつこ] おはよう", "夏子/なつこ", "おはよう"),
        ("[夏子/なつこ]：おはよう", "夏子/なつこ", "おはよう"),
        ("[Atri/亚托莉]早上好", "Atri/亚托莉", "早上好"),
    ],
)
def test_a_name_and_its_reading_before_a_blank_colon_or_quote_is_a_speaker(
    line: str, speaker: str, said: str
) -> None:
    assert pairs(f"{line}\n") == [(speaker, said)]


@pytest.mark.parametrize("line", ["csp 5:csp 6:facereset", "csp 0:csp 1", "lsp 1:print 2"])
def test_lower_case_commands_joined_by_a_colon_name_no_speaker(line: str) -> None:
    assert [u for u in read(f"{line}\n") if u.speaker is not None] == []


@pytest.mark.parametrize(
    ("line", "speaker", "said"),
    [("Natsuki:Fine.", "Natsuki", "Fine."), ("atri: hi there", "atri", "hi there")],
)
def test_a_name_and_colon_is_still_a_speaker(line: str, speaker: str, said: str) -> None:
    assert pairs(f"{line}\n") == [(speaker, said)]

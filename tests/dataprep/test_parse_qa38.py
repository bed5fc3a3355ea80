"""QA pass 38: how dumps are parsed. A colon after a bracketed name, blanks inside a
name, a quoted line the dump wrapped over several lines, Word documents, a speaker tag in
square brackets that is an alias, and Python inside Ren'Py `translate` blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role, Utterance
from tests.dataprep.conftest import FIXTURES


def said(utterances: list[Utterance]) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in utterances]


def settings(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(eval_ratio=0, **dataprep)  # type: ignore[arg-type]


def run(paths: list[Path], **dataprep: object) -> tuple[list[list[tuple[Role, str]]], PrepResult]:
    result = run_pipeline(settings(**dataprep), paths)
    return [s.turns for s in result.train], result


# 1. A colon after a bracketed name ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "kirikiri"])
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("【亚托莉】：早上好", ("亚托莉", "早上好")),
        ("【夏生】:你好", ("夏生", "你好")),
        ("【亚托莉】 ： 「早上好」", ("亚托莉", "「早上好」")),
        ("【亚托莉】「早上好」", ("亚托莉", "「早上好」")),  # as before
    ],
)
def test_a_colon_after_a_bracketed_name_is_no_part_of_the_line(
    fmt: str, line: str, expected: tuple[str, str]
) -> None:
    # It gave ("亚托莉", "：早上好"): the colon stayed at the head of the line.
    assert said(parse(line, "x", fmt, ParseOptions())) == [expected]


def test_a_bracketed_name_and_colon_alone_names_the_quoted_line_below() -> None:
    found = parse("【亚托莉】：\n「早上好」\n【回想】：\n「嗯」\n", "x", "plain", ParseOptions())
    # A heading with a colon still names nobody.
    assert said(found) == [("亚托莉", "「早上好」"), (None, "【回想】："), (None, "「嗯」")]


def test_colon_after_bracketed_names_through_the_pipeline() -> None:
    turns, _ = run([FIXTURES / "qa38_bracket_colon.txt"])
    assert turns[-1] == [
        (Role.LEAD, "早上好，亚托莉。"),
        (Role.CHARACTER, "早上好，{{user}}先生！"),
        (Role.LEAD, "今天做什么？"),
        (Role.CHARACTER, "去海边捡贝壳吧！"),
    ]


# 2. Blanks in and around a name; a colon between digits ------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("夏生\u3000：你好", ("夏生", "你好")),
        ("\u3000夏生\u3000：你好", ("夏生", "你好")),
        ("斑鳩\u3000夏生：你好", ("斑鳩 夏生", "你好")),
        ("Natsuki\u00a0Kaito: hi", ("Natsuki Kaito", "hi")),
        ("Natsuki\u00a0\u00a0Kaito\u3000: hi", ("Natsuki Kaito", "hi")),
        ("Natsuki  Kaito: hi", ("Natsuki Kaito", "hi")),
        ("【亚托莉\u3000】早上好", ("亚托莉", "早上好")),
        ("[Natsuki\u00a0Kaito] hi", ("Natsuki Kaito", "hi")),
        # A colon between digits is a time, not the end of a name.
        ("Time 10:30 we meet", (None, "Time 10:30 we meet")),
        ("时间 10:30", (None, "时间 10:30")),
        ("时间 １０：３０ 出发", (None, "时间 １０：３０ 出发")),
        ("Atri 10:30", (None, "Atri 10:30")),
        # A time after the colon of a name is still a line.
        ("夏生：10点了", ("夏生", "10点了")),
        ("Atri: 10:30 already?", ("Atri", "10:30 already?")),
        ("Agent 47: Done.", ("Agent 47", "Done.")),
    ],
)
def test_blanks_in_names_and_times_in_plain_lines(
    line: str, expected: tuple[str | None, str]
) -> None:
    # Before: a name with NBSP in it was narration, and "Time 10:30" a speaker "Time 10".
    assert said(parse(line, "x", "plain", ParseOptions())) == [expected]


def test_a_name_alone_with_an_nbsp_names_the_quoted_line_below() -> None:
    found = parse("Natsuki\u00a0Kaito:\n“Hi.”\n", "x", "plain", ParseOptions())
    assert said(found) == [("Natsuki Kaito", "“Hi.”")]


@pytest.mark.parametrize("line", ["#Natsuki\u00a0 Kaito", '[nm t="Natsuki\u3000Kaito "]'])
def test_kirikiri_names_are_tidied(line: str) -> None:
    assert said(parse(f"{line}\nhi[p]\n", "x", "kirikiri", ParseOptions())) == [
        ("Natsuki Kaito", "hi")
    ]


def test_names_with_blanks_match_their_aliases() -> None:
    turns, result = run(
        [FIXTURES / "qa38_name_blanks.txt"],
        lead_aliases=["Natsuki Kaito"],
        character_aliases=["Atri"],
        user_placeholder=False,
    )
    assert turns[-1] == [
        (Role.LEAD, "Morning, Atri."),
        (Role.CHARACTER, "Good morning, Natsuki!"),
        (Role.LEAD, "What now?"),
        (Role.CHARACTER, "Breakfast, of course."),
    ]
    # The time line is narration (skipped by default), not a speaker "Time 10".
    assert {s["name"] for s in result.stats.to_json()["speakers"]} == {"Natsuki Kaito", "Atri"}

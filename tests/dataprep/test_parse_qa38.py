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

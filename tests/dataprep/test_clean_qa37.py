"""QA pass 37: straight quotes around part of a line, EUC-JP scripts, name slots left in
plain dumps (`[player]`, `{name}`), and the exchange a dropped line ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import clean_text
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role
from tests.dataprep.conftest import FIXTURES

ZH = (FIXTURES / "plain_zh.txt").read_text(encoding="utf-8")
JA = (FIXTURES / "plain_ja.txt").read_text(encoding="utf-8")
# Kanji on most lines, as in a real script: kana alone read the same in EUC-JP and GB2312.
JA_KANJI = (
    "夏生：おはよう、アトリ。\n"
    "アトリ：おはようございます、夏生さん。海が綺麗ですね。\n"
    "夏生：今日は何をする？\n"
    "アトリ：朝ごはんを作りました！高性能ですから。\n"
    "夏生：午後は？\n"
    "アトリ：海で泳ぎましょう。私、泳ぎは得意なんです。\n"
)


def settings(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(eval_ratio=0, **dataprep)  # type: ignore[arg-type]


def run(
    tmp_path: Path, text: str, **dataprep: object
) -> tuple[list[list[tuple[Role, str]]], PrepResult]:
    script = tmp_path / "script.txt"
    script.write_text(text, encoding="utf-8")
    result = run_pipeline(settings(**dataprep), [script])
    return [s.turns for s in result.train], result


# 1. Straight double quotes ----------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '"Hi," she said. "How are you?"',
        '"Of course! I\'m high-performance, after all." She puffed out her chest.',
        '"A" "B"',
    ],
)
def test_straight_quotes_beside_narration_stay_as_curly_ones_do(line: str) -> None:
    # It gave 'Hi," she said. "How are you?': the outer marks went, the inner stayed.
    assert clean_text(line) == line
    # The curly version of the same line was already kept whole.
    curly = line.replace('"', "“", 1).replace('"', "”", 1).replace('"', "“", 1).replace('"', "”", 1)
    assert clean_text(curly) == curly
    # A line that is one quote still loses its marks, as does an unclosed opener.
    assert clean_text('"Let\'s go!"') == "Let's go!"
    assert clean_text('"Wait for me') == "Wait for me"


def test_a_straight_quote_with_narration_after_it_trains_whole(tmp_path: Path) -> None:
    samples, _ = run(
        tmp_path,
        "Natsuki: Can you cook?\n"
        'Atri: "Of course! I\'m high-performance, after all." She puffed out her chest.\n',
    )
    assert samples[0][-1] == (
        Role.CHARACTER,
        '"Of course! I\'m high-performance, after all." She puffed out her chest.',
    )

"""A line quoted whole keeps no outer quote marks when a quote sits inside it
(「笔记上写，对方名叫「椿」…」, common in Chinese dumps); side-by-side quotes and a quote
beside narration stay whole, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import clean_text, strip_quotes
from dataprep.pipeline import run_pipeline


@pytest.mark.parametrize(
    ("line", "stripped"),
    [
        (
            "「笔记上写，对方名叫「椿」，是个爱玩乐的人。」",
            "笔记上写，对方名叫「椿」，是个爱玩乐的人。",
        ),
        ("「就是「SOS团」吗？」", "就是「SOS团」吗？"),
        ("「a「b」「c」d」", "a「b」「c」d"),
        ("『他说「好」。』", "他说「好」。"),
    ],
)
def test_a_quote_inside_a_whole_quoted_line_is_kept_and_the_outer_pair_goes(
    line: str, stripped: str
) -> None:
    assert strip_quotes(line) == stripped
    assert clean_text(line) == stripped


@pytest.mark.parametrize(
    "line",
    ["「a」「b」", "「a」她说。", "「a」b「c」", "「a「b」c", '"a" she said. "b"'],
)
def test_quotes_side_by_side_or_beside_narration_stay_whole(line: str) -> None:
    assert strip_quotes(line) == line


def test_prep_strips_the_outer_quotes_of_a_line_quoting_a_name(tmp_path: Path) -> None:
    # As Chat-Haruhi-Suzumiya's character dumps write it (ayaka, haruhi).
    dump = tmp_path / "dump.txt"
    dump.write_text(
        "旅行者:「那本笔记写了什么？」\n神里绫华:「笔记上写，对方名叫「椿」，是个爱玩乐的人。」\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(
        lead_aliases=["旅行者"], character_aliases=["神里绫华"], eval_ratio=0
    )
    (sample,) = run_pipeline(settings, [dump]).train
    assert sample.turns[-1][1] == "笔记上写，对方名叫「椿」，是个爱玩乐的人。"

"""A stray quote mark in a .csv/.tsv table costs its own line, not every row below it."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline


def stray_quote_table(pairs: int, quoted_at: int) -> str:
    rows = ["name,text"]
    for i in range(pairs):
        rows.append(f"Natsuki,Question number {i}? What do you think about it?")
        rows.append(f"Atri,Answer number {i}: I am a high-performance robot after all.")
    rows[quoted_at - 1] = 'Atri,"Well... it depends, she said'
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("pairs", [300, 3000], ids=["small", "past the field limit"])
def test_a_stray_quote_in_a_table_loses_its_line_not_the_rows_below(
    tmp_path: Path, pairs: int
) -> None:
    # Before: the rows below it became one cell, dropped as too long (580 of 601 lines
    # lost, status 0); past 128 KiB the whole file was refused.
    script = tmp_path / "lines.csv"
    script.write_text(stray_quote_table(pairs, quoted_at=21), encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert len(result.train) == pairs - 1  # the answer on line 21 alone is left out
    assert result.stats.character_lines_dropped["unclosed_string"] == 1
    (report,) = result.stats.files
    assert report.utterances == 2 * pairs
    assert report.warning == (
        f"{script}: the quoted cell on line 21 is never closed (a stray quote mark, which took"
        " the rows below into one cell); that line was left out, the rows below it read."
    )


def test_a_quoted_cell_over_a_few_lines_is_one_text_box(tmp_path: Path) -> None:
    script = tmp_path / "boxes.csv"
    script.write_text(
        'name,text\nNatsuki,"Hi,\nAtri."\nAtri,"Good morning!\nI am\nhigh-performance!"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [s.turns[-1][1] for s in result.train] == ["Good morning! I am high-performance!"]
    assert result.stats.files[0].warning is None

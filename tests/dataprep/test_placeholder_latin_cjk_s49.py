"""A Latin-script lead name written against Chinese, Japanese or Korean text with no space
is still his name (有sensei在, Kaitoさん): those letters are no part of a Latin word."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import placeholder_replacer
from dataprep.pipeline import run_pipeline
from dataprep.records import Role


@pytest.mark.parametrize(
    ("line", "replaced"),
    [
        ("有sensei在，当然一切都还好啦。", "有{{user}}在，当然一切都还好啦。"),
        ("言叶相信sensei。", "言叶相信{{user}}。"),
        ("Kaitoさん、おはよう", "{{user}}さん、おはよう"),
        ("Kaito씨", "{{user}}씨"),
        ("sensei们", "{{user}}们"),
    ],
)
def test_a_latin_name_against_cjk_text_is_replaced(line: str, replaced: str) -> None:
    assert placeholder_replacer(["sensei", "Kaito"])(line) == replaced


@pytest.mark.parametrize(
    "line",
    ["senseis", "xsensei", "éKaito", "Kaitoé", "I'm fine", "Kaito2"],
)
def test_a_latin_name_inside_a_latin_word_stays(line: str) -> None:
    assert placeholder_replacer(["sensei", "Kaito", "m"])(line) == line


def test_prep_replaces_a_latin_lead_name_in_chinese_lines(tmp_path: Path) -> None:
    # As a TyranoBuilder game names its lead (Memories-of-Winter-Tree, hend.ks).
    script = tmp_path / "script.txt"
    script.write_text(
        "sensei：言叶，今天感觉怎么样？\n言叶：有sensei在，当然一切都还好啦。\n"
        "sensei：那就好。\n言叶：嗯，言叶相信sensei。\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["sensei"], character_aliases=["言叶"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    replies = [t for s in result.train for r, t in s.turns if r is Role.CHARACTER]
    assert "有{{user}}在，当然一切都还好啦。" in replies
    assert "嗯，言叶相信{{user}}。" in replies

"""The lead's Chinese name is replaced by {{user}} where it is his name, not where its
characters belong to two words around it (初夏 + 生机勃勃 hold 夏生): that made
初{{user}}机勃勃 of ATRI's line, with the default aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import placeholder_replacer
from dataprep.pipeline import run_pipeline

REPLACE = placeholder_replacer(["夏生", "斑鸠夏生"])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Words across the name's edges: 初夏/生机勃勃, 盛夏/生长, 立夏/生日, 今年/夏/生意.
        ("初夏生机勃勃，我在看窗外的风景。", "初夏生机勃勃，我在看窗外的风景。"),
        ("盛夏生长的向日葵最漂亮了，夏生。", "盛夏生长的向日葵最漂亮了，{{user}}。"),
        ("立夏生日快乐——不对", "立夏生日快乐——不对"),
        ("今年夏生意不好。", "今年夏生意不好。"),
        # His name, though a word starts with its last character (生日, 生长, 日记).
        ("夏生生日快乐！", "{{user}}生日快乐！"),
        ("夏生长大了。", "{{user}}长大了。"),
        ("夏生日记", "{{user}}日记"),
        # No word joins it to its neighbours: replaced without a dictionary.
        ("是夏生的。", "是{{user}}的。"),
        ("夏生先生，我们去海边吧！", "{{user}}先生，我们去海边吧！"),
        ("斑鸠夏生君", "{{user}}君"),
        ("夏生、夏生！", "{{user}}、{{user}}！"),
        ("夏生まれの子", "夏生まれの子"),
    ],
)
def test_the_name_is_replaced_only_where_it_is_a_word(line: str, expected: str) -> None:
    assert REPLACE(line) == expected


def test_prep_keeps_words_that_hold_the_name(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text(
        "第一章\n"
        "夏生：亚托莉，你在干什么？\n"
        "亚托莉：初夏生机勃勃，我在看窗外的风景。\n"
        "夏生：是吗。\n"
        "亚托莉：盛夏生长的向日葵最漂亮了，夏生。\n",
        encoding="utf-8",
    )
    result = run_pipeline(DataprepSettings(eval_ratio=0), [script])
    replies = [sample.turns[-1][1] for sample in result.train]
    assert replies == ["初夏生机勃勃，我在看窗外的风景。", "盛夏生长的向日葵最漂亮了，{{user}}。"]

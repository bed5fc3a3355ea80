"""A fan's messy dumps (session 66's review): the shapes real extraction tools write."""

from __future__ import annotations

from pathlib import Path

from dataprep.records import Role
from tests.dataprep.test_clean_qa37 import run


def test_the_leads_chinese_name_in_braces_is_the_placeholder(tmp_path: Path) -> None:
    """A translation dump's `{夏生}` became `{{{user}}}`: the braces stayed around the
    placeholder the name replacer put in. Another name in braces is left as written."""
    samples, _ = run(
        tmp_path,
        "夏生：「早上好，亚托莉。」\n"
        "亚托莉：「早上好，{夏生}先生！[夏生]，{湊}也来了哦。」\n",
    )
    assert samples == [
        [
            (Role.LEAD, "早上好，亚托莉。"),
            (Role.CHARACTER, "早上好，{{user}}先生！{{user}}，{湊}也来了哦。"),
        ]
    ]

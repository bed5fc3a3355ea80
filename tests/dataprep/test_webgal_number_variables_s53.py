"""Session 53: a WebGAL variable start.txt sets to a number (`setVar:sanity=60;`, shown on
a status card as `理智值：{sanity}`) was named with the variables no setVar gives a
string, telling the user to give start.txt (given) or to add `{sanity}` to the aliases.
Such a value changes as the game is played and names no one: it is named on its own,
without that advice; variables never set keep it."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

# The shape of a real game's scenes (dangerous_liaisons: start.txt, ch1_end.txt).
START = """\
setVar:heroine=陈薇;
setVar:sanity=60;
:人生有时候就是这样。;
changeScene:ch1.txt;
"""
CH1 = """\
changeBg:black.png -next;
你:你好。;
{heroine}:你好，{heroine}在此。;
你:理智？;
{heroine}:理智值：{sanity};
你:还有谁？;
{heroine}:{stranger}也在。;
"""


def test_a_number_variable_is_named_as_such_without_the_advice_for_unset_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "start.txt").write_text(START, "utf-8")
    (tmp_path / "ch1.txt").write_text(CH1, "utf-8")
    settings = DataprepSettings(
        lead_aliases=["你"], character_aliases=["陈薇"], eval_ratio=0, user_placeholder=False
    )
    result = run_pipeline(settings, [tmp_path])
    assert [(s.prompt, s.reply) for s in result.train] == [("你好。", "你好，陈薇在此。")]
    about_sanity = [n for n in result.notes if "{sanity}" in n]
    assert len(about_sanity) == 1
    note = about_sanity[0]
    assert "number or an expression" in note and "dropped" in note
    assert "aliases" not in note and "start.txt" not in note and "{stranger}" not in note
    # A variable no scene sets keeps its advice.
    (unset,) = [n for n in result.notes if "{stranger}" in n and "WebGAL" in n]
    assert "setVar:stranger=" in unset and "character_aliases" in unset

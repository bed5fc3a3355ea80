"""Session 53: an alias copied from a script as written there (`lead_aliases = ["森　罗"]`,
the full-width space a Chinese port puts inside a two-letter name) names the speaker 森罗
(the readers tidy names), but the lead's name in her lines, 森罗, stayed: the names put
in for `{{user}}` (and for the character's "我" in background facts) were only the alias
as written."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.background import first_person
from dataprep.pipeline import run_pipeline

# The shape of a Chinese ONScripter port (100pangci/natsu 0.txt), written as a plain script.
SCRIPT = """\
【森　罗】「恋，你也需要决定」
【　恋　】「……森罗」
【森　罗】「是啊」
【　恋　】「在这个世界上，对我温柔的人…只有森罗……」
"""


def test_a_lead_alias_as_written_in_the_script_is_replaced_in_her_lines(tmp_path: Path) -> None:
    path = tmp_path / "script.txt"
    path.write_text(SCRIPT, "utf-8")
    settings = DataprepSettings(
        lead_aliases=["森　罗"], character_aliases=["　恋　"], eval_ratio=0, user_placeholder=True
    )
    replies = [s.reply for s in run_pipeline(settings, [path]).train]
    assert replies == ["……{{user}}", "在这个世界上，对我温柔的人……只有{{user}}……"]


def test_a_character_alias_as_written_becomes_first_person() -> None:
    assert first_person("　恋　喜欢森罗。", ["　恋　"]) == "我喜欢森罗。"
    assert first_person("恋喜欢森罗。", ["　恋　"]) == "我喜欢森罗。"

"""The README's Ren'Py example gave `script.rpy` alone: a game whose `define`s are in
characters.rpy then showed the speakers `e` and `m`, and the run only said to fix the
aliases. It now says those are character variables defined in a file not given."""

from __future__ import annotations

import shutil
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import prepare

FIXTURE = Path(__file__).parent / "fixtures" / "s44_renpy" / "game"
EILEEN = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])


def test_speakers_that_are_variables_point_at_the_game_folder(tmp_path: Path) -> None:
    game = tmp_path / "game"
    shutil.copytree(FIXTURE, game)
    alone = prepare(EILEEN, [game / "script.rpy"], tmp_path / "out", system_prompt="S")
    assert alone.problem is not None
    assert "most frequent speakers are m (" in alone.problem
    assert "give the game folder itself, every .rpy file in it" in alone.problem
    whole = prepare(EILEEN, [game], tmp_path / "out", system_prompt="S")
    matched = {s.name: s.role for s in whole.stats.speakers}
    assert matched["Eileen"] == "character" and matched["Max"] == "lead"

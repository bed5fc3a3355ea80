"""A block of code or images whose opening line ends in a comment (`image e smile: # …`)
is skipped as one without it is: its image paths are no narration."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

IMAGES = """\
image e smile: # a softer smile
    "sprites/eileen_smile.png"
    zoom 0.285

init python: # helpers
    "not a line"

init: # old style
    "nor this"
"""

SCRIPT = """\
define e = Character("Eileen")
define m = Character("Max")

label start:
    m "Hi."
    e "Hello."
    return
"""


def test_a_commented_block_opening_hides_its_strings(tmp_path: Path) -> None:
    (tmp_path / "images.rpy").write_text(IMAGES, encoding="utf-8")
    (tmp_path / "script.rpy").write_text(SCRIPT, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [tmp_path / "images.rpy", tmp_path / "script.rpy"])
    # Summed up with the game's other files of no dialogue, not told to try --format plain.
    assert "images.rpy" in (result.without_dialogue or "")
    assert not result.errors
    assert [s.turns[-1][1] for s in result.train] == ["Hello."]

"""Ren'Py runs a `$ e = Character(...)` of the story (in a label, not an `init` block)
when the game reaches it: the lines of `e` said before it show the name defined before
the game starts (`define`, `init:` Python), those after it the new one. It was read as
the game's one definition of `e`, renaming every line of `e`, those said before it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import run_pipeline

STORY = 'label start:\n    e "I am Eileen."\n    {redefine}\n    e "Call me Eve now."\n'
SAID = [("Eileen", "I am Eileen."), ("Eve", "Call me Eve now.")]
BEFORE_THE_GAME = {
    "define": 'define e = Character("Eileen")\n',
    "init: then $": 'init:\n    $ e = Character("Eileen")\n',
    "init python:": 'init python:\n    e = Character("Eileen")\n',
    # Below the story in the file, it still runs before the game starts.
    "define below": None,
}
REDEFINE = {
    "$": '$ e = Character("Eve")',
    "python:": 'python:\n        e = Character("Eve")',
}


@pytest.mark.parametrize("redefine", REDEFINE.values(), ids=REDEFINE.keys())
@pytest.mark.parametrize("before", BEFORE_THE_GAME.values(), ids=BEFORE_THE_GAME.keys())
def test_a_story_definition_names_the_lines_after_it(before: str | None, redefine: str) -> None:
    story = STORY.format(redefine=redefine)
    script = story + BEFORE_THE_GAME["define"] if before is None else before + story
    parsed = renpy_format.parse(script, "script.rpy", ParseOptions())
    assert [(u.speaker, u.text) for u in parsed] == SAID


def test_a_story_definition_in_another_file_renames_no_line(tmp_path: Path) -> None:
    # Every file's definitions are gathered before any is read: Eve's held in all of them.
    (tmp_path / "characters.rpy").write_text(
        'define e = Character("Eileen")\ndefine m = Character("Max")\n', encoding="utf-8"
    )
    (tmp_path / "script.rpy").write_text(
        'label start:\n    m "Hi."\n    e "Hello, Max."\n    e "Bye."\n', encoding="utf-8"
    )
    (tmp_path / "epilogue.rpy").write_text(
        'label epilogue:\n    $ e = Character("Eve")\n    e "Years later."\n', encoding="utf-8"
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    files = [tmp_path / name for name in ("characters.rpy", "script.rpy", "epilogue.rpy")]
    result = run_pipeline(settings, files)
    assert result.problem is None
    assert {(s.name, s.lines) for s in result.stats.speakers} == {
        ("Eileen", 2),
        ("Eve", 1),
        ("Max", 1),
    }

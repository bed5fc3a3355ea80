"""A story's `$ e = DynamicCharacter("name_var")` runs when the game reaches it, as a
story `$ e = Character(…)` does: the lines of `e` after it show what name_var holds, those
before it the name defined before the game starts. It renamed no line."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import run_pipeline

SCRIPT = (
    'define e = Character("Eileen")\n'
    "label start:\n"
    '    e "I am Eileen."\n'
    '    $ e = DynamicCharacter("e_name")\n'
    '    e "Call me Eve now."\n'
)


def test_a_story_dynamic_character_names_the_lines_after_it_by_its_variable() -> None:
    options = ParseOptions(renpy_variables={"e_name": "Eve"})
    parsed = renpy_format.parse(SCRIPT, "script.rpy", options)
    assert [(u.speaker, u.text) for u in parsed] == [
        ("Eileen", "I am Eileen."),
        ("Eve", "Call me Eve now."),
    ]


def test_the_variable_set_in_the_scripts_names_the_lines_after_it(tmp_path: Path) -> None:
    script = tmp_path / "script.rpy"
    script.write_text('define e_name = "Eve"\n' + SCRIPT, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    result = run_pipeline(settings, [script])
    assert {(s.name, s.lines) for s in result.stats.speakers} == {("Eileen", 1), ("Eve", 1)}


def test_an_unknown_name_variable_leaves_the_speaker_known_by_its_own_variable() -> None:
    parsed = renpy_format.parse(SCRIPT, "script.rpy", ParseOptions())
    assert [u.speaker for u in parsed] == ["Eileen", "e"]

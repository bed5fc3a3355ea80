"""A character named by the player's typed name (a variable given `renpy.input(…)`) is the
lead, whether it is defined before the game starts (`define mc = DynamicCharacter(
"player_name")`, `Character("[player_name]")`) or by the story when it is reached
(`$ mc = DynamicCharacter("player_name")` in a label). The story's form was named by what
the variable shows in a line: the `{{user}}` placeholder, so the lead's lines were
credited to a speaker "{{user}}" (and the run found no lead); its `Character("[…]")` was
named "[player_name]" as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import PrepResult, run_pipeline

INPUT = '    $ player_name = renpy.input("Your name?")\n'
DEFINE_ATRI = 'define a = Character("Atri")\n'
SAID = '    mc "Hi."\n    a "Hello."\n'
PLAYER_CHARACTER = {
    "DynamicCharacter": 'DynamicCharacter("player_name")',
    "Character([var])": 'Character("[player_name]")',
    "dynamic=True": 'Character("player_name", dynamic=True)',
}
SETTINGS = {
    "placeholder": DataprepSettings(lead_aliases=["Max"], character_aliases=["Atri"]),
    "lead's name": DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Atri"], user_placeholder=False
    ),
}


def story_defined(character: str) -> str:
    return f"{DEFINE_ATRI}label start:\n{INPUT}    $ mc = {character}\n{SAID}"


def init_defined(character: str) -> str:
    return f"{DEFINE_ATRI}define mc = {character}\nlabel start:\n{INPUT}{SAID}"


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


def run(folder: Path, settings: DataprepSettings, **files: str) -> PrepResult:
    folder.mkdir()
    paths = []
    for name, text in files.items():
        path = folder / f"{name}.rpy"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return run_pipeline(settings, paths)


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("character", PLAYER_CHARACTER.values(), ids=PLAYER_CHARACTER.keys())
def test_a_story_player_character_is_the_lead_as_one_defined_before_the_game(
    tmp_path: Path, character: str, settings: DataprepSettings
) -> None:
    story = run(tmp_path / "story", settings, script=story_defined(character))
    init = run(tmp_path / "init", settings, script=init_defined(character))
    assert story.problem is None
    assert speakers(story) == speakers(init) == {("Max", 1, "lead"), ("Atri", 1, "character")}
    assert [s.reply for s in story.train] == ["Hello."]


def test_the_player_variable_is_known_from_another_file(tmp_path: Path) -> None:
    # The name is asked in one file; the story that names a character by it is another.
    result = run(
        tmp_path / "story",
        SETTINGS["placeholder"],
        intro=f"label intro:\n{INPUT}    jump start\n",
        script=f'{DEFINE_ATRI}label start:\n    $ mc = DynamicCharacter("player_name")\n{SAID}',
    )
    assert result.problem is None
    assert speakers(result) == {("Max", 1, "lead"), ("Atri", 1, "character")}


def test_parse_names_a_story_player_character_by_the_lead_it_is_given() -> None:
    # The lines before it keep the name defined before the game starts.
    script = (
        'define mc = Character("Stranger")\n'
        "label start:\n"
        '    mc "Who am I?"\n'
        '    $ mc = DynamicCharacter("player_name")\n'
        '    mc "I am [player_name]."\n'
    )
    options = ParseOptions(
        renpy_variables={"player_name": "{{user}}"}, renpy_player={"player_name": "Max"}
    )
    parsed = renpy_format.parse(script, "script.rpy", options)
    assert [(u.speaker, u.text) for u in parsed] == [
        ("Stranger", "Who am I?"),
        ("Max", "I am {{user}}."),
    ]


def test_a_story_character_shows_the_value_of_a_variable_in_its_name() -> None:
    # As `define e = Character("[e_name]")` does: the name is shown with e_name's value.
    script = (
        'define e = Character("Eileen")\n'
        "label start:\n"
        '    $ e = Character("[e_name] the Brave")\n'
        '    e "Hi."\n'
    )
    options = ParseOptions(renpy_variables={"e_name": "Eve"})
    parsed = renpy_format.parse(script, "script.rpy", options)
    assert [(u.speaker, u.text) for u in parsed] == [("Eve the Brave", "Hi.")]

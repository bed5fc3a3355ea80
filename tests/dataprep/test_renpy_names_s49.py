"""Names as real games write them: a typed name shown through a change of case
(`Character("[avatar.upper()]")`), `Character ("Zaina")` with a space before its
bracket, a character given another character's variable (`define npc = annika`), text
tags in a `define`d string shown through `[var]`, and scripts saved with Windows line
ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline


def run(folder: Path, lead: str, character: str, **files: str | bytes) -> PrepResult:
    folder.mkdir(exist_ok=True)
    paths = []
    for name, text in files.items():
        path = folder / f"{name}.rpy"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    settings = DataprepSettings(lead_aliases=[lead], character_aliases=[character])
    return run_pipeline(settings, paths)


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


@pytest.mark.parametrize("shown", ["upper()", "title()", "capitalize()", "lower()"])
def test_a_typed_name_with_its_case_changed_is_the_lead(tmp_path: Path, shown: str) -> None:
    script = (
        'define r = Character(_("RAGATHA"))\n'
        f'define a = Character("[avatar.{shown}]")\n'
        "label start:\n"
        '    $ avatar = renpy.input("What is your name?", length=20)\n'
        '    r "Hey there!"\n'
        '    a "I think I\'m doing fine, [avatar.upper()]."\n'
        '    r "That\'s a lot."\n'
    )
    result = run(tmp_path, "Max", "RAGATHA", script=script)
    assert result.problem is None
    assert speakers(result) == {("Max", 1, "lead"), ("RAGATHA", 2, "character")}
    assert [s.prompt for s in result.train] == ["I think I'm doing fine, {{user}}."]


@pytest.mark.parametrize(
    "define",
    [
        'define z = Character ("Zaina", color="#ffcc00")',
        'define z = Character  (\n    "Zaina")',
        '$ z = Character ("Zaina")',
        'define z = DynamicCharacter ("z_name")\ndefine z_name = "Zaina"',
    ],
)
def test_a_character_with_a_space_before_its_bracket_is_read(tmp_path: Path, define: str) -> None:
    script = (
        f'{define}\ndefine m = Character("Max")\n'
        'label start:\n    m "Where were the caves?"\n    z "Pete wasn\'t kidding."\n'
    )
    result = run(tmp_path, "Max", "Zaina", script=script)
    assert speakers(result) == {("Max", 1, "lead"), ("Zaina", 1, "character")}
    assert [s.reply for s in result.train] == ["Pete wasn't kidding."]


ANNIKA_SAYS = (
    'label start:\n    m "What is a hackathon?"\n    npc "An event to build things."\n'
    '    m "Sounds fun."\n    npc "You should go!"\n'
)


@pytest.mark.parametrize(
    "alias",
    [
        "define npc = annika",
        "default npc = annika  # who helps",
        "define guide = annika\ndefine npc = guide",
    ],
)
def test_a_character_given_another_characters_variable_speaks_as_it(
    tmp_path: Path, alias: str
) -> None:
    cast = 'define annika = Character("Annika")\ndefine m = Character("Max")\n'
    # The alias may come before the character it names, in another file.
    result = run(tmp_path, "Max", "Annika", aliases=f"{alias}\n", cast=cast, script=ANNIKA_SAYS)
    assert speakers(result) == {("Max", 2, "lead"), ("Annika", 2, "character")}
    assert [s.reply for s in result.train] == ["An event to build things.", "You should go!"]


def test_a_variable_given_anything_but_a_character_is_no_speaker(tmp_path: Path) -> None:
    script = (
        'define m = Character("Max")\ndefine annika = "Annika"\ndefine npc = annika\n' + ANNIKA_SAYS
    )
    result = run(tmp_path, "Max", "npc", script=script)
    assert speakers(result) == {("Max", 2, "lead"), ("npc", 2, "character")}


SITE = (
    "define site = '{a=https://www.freecodecamp.org/}{color=#002ead}freeCodeCamp.org{/color}{/a}'\n"
)


def said_about_the_site(tmp_path: Path, said: str, defines: str = "") -> list[str]:
    script = (
        f'define e = Character("Eileen")\ndefine m = Character("Max")\n{SITE}{defines}'
        f'label start:\n    m "What is it called?"\n    e "{said}"\n'
    )
    result = run(tmp_path, "Max", "Eileen", script=script)
    return [s.reply for s in result.train]


def test_a_defined_string_shown_in_a_line_loses_its_text_tags(tmp_path: Path) -> None:
    said = said_about_the_site(
        tmp_path,
        "It's called {b}[site]{/b}. Go study, [player]!",
        '$ player = renpy.input("Name?")\n',
    )
    assert said == ["It's called freeCodeCamp.org. Go study, {{user}}!"]


def test_a_quoted_value_keeps_its_braces(tmp_path: Path) -> None:
    # `!q` quotes the value's braces: Ren'Py shows them as written.
    said = said_about_the_site(tmp_path, "Type [site!q].")
    assert said == [
        "Type {a=https://www.freecodecamp.org/}{color=#002ead}freeCodeCamp.org{/color}{/a}."
    ]


def test_a_name_shows_a_tagged_value_without_its_tags(tmp_path: Path) -> None:
    script = (
        'define title = "{i}Captain{/i}"\ndefine c = Character("[title] Rex")\n'
        'define m = Character("Max")\nlabel start:\n    m "Sir?"\n    c "Yes."\n'
    )
    result = run(tmp_path, "Max", "Captain Rex", script=script)
    assert speakers(result) == {("Max", 1, "lead"), ("Captain Rex", 1, "character")}

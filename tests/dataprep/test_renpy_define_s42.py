"""A `define x = Character(...)` whose arguments run over several lines names its
speaker as on one line. The define was read from its first physical line only, so in
`define e = Character(\\n    "Eileen",\\n)` no name was found: every line of `e` had the
speaker "e", and `atri prep` found no line of the character it was asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options, run_pipeline

SCRIPT = """label start:
    m "Hello, Eileen."
    e "Hi, Max."
    n "The sun went down."
    m "Bye."
    e "See you."
"""
# What the script says, as Ren'Py shows it, when `e` is Eileen and `n` a narrator.
SAID = [
    ("Max", "Hello, Eileen."),
    ("Eileen", "Hi, Max."),
    (None, "The sun went down."),
    ("Max", "Bye."),
    ("Eileen", "See you."),
]
NARRATOR = 'define n = Character(None, kind=nvl)\ndefine m = Character("Max")\n'

DEFINES = {
    "the name on the line below": 'define e = Character(\n    "Eileen",\n    color="#c8ffc8",\n)\n',
    "a translatable name below": 'define e = Character(\n    _("Eileen"),\n    color="#c8ffc8")\n',
    "_( and its string on two lines": 'define e = Character(_(\n    "Eileen"), color="#fff")\n',
    "the name keyword below another": (
        "define e = Character(\n    color='#c8ffc8',\n    name='Eileen',\n)\n"
    ),
    "a comment line between": (
        'define e = Character(\n    # the heroine; name="Wrong"\n    "Eileen",\n)\n'
    ),
    # The comment's `name=` was read as the name.
    "a comment after the bracket": 'define e = Character(  # not name="Wrong"\n    "Eileen")\n',
    "a backslash before Character": 'define e = \\\n    Character("Eileen")\n',
    # Read as no character at all.
    "an init priority": 'define -1 e = Character(\n    "Eileen")\n',
    "on one line": 'define e = Character("Eileen", color="#c8ffc8")  # as before\n',
}
NARRATORS = {
    "None on the line below": 'define n = Character(\n    None,\n    kind=nvl,\n)\ndefine m = Character("Max")\n',
    "None, kind below": 'define n = Character(None,\n    kind=nvl)\ndefine m = Character("Max")\n',
}


def _lines(game: Path, defines: str) -> list[tuple[str | None, str]]:
    """(speaker, text) of each line `atri prep`'s parser reads from the script, with the
    characters defined in a file of their own, as games have them."""
    (game / "characters.rpy").write_text(defines, encoding="utf-8")
    (game / "script.rpy").write_text(SCRIPT, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    scripts, _ = load_scripts([game / "characters.rpy", game / "script.rpy"], settings, None)
    options = parse_options(settings, scripts)
    return [(u.speaker, u.text) for batch in iter_utterances(scripts, options) for u in batch]


@pytest.mark.parametrize("define", DEFINES.values(), ids=DEFINES.keys())
def test_a_define_over_lines_names_its_speaker(tmp_path: Path, define: str) -> None:
    assert _lines(tmp_path, NARRATOR + define) == SAID


@pytest.mark.parametrize("define", NARRATORS.values(), ids=NARRATORS.keys())
def test_a_narrator_defined_over_lines_says_narration(tmp_path: Path, define: str) -> None:
    assert _lines(tmp_path, define + 'define e = Character("Eileen")\n') == SAID


def test_a_dynamic_character_defined_over_lines(tmp_path: Path) -> None:
    defines = (
        NARRATOR + 'default e_name = "Eileen"\n'
        'define e = DynamicCharacter(\n    "e_name",\n    color="#c8ffc8")\n'
    )
    assert _lines(tmp_path, defines) == SAID


def test_a_define_never_closed_is_read_as_its_line(tmp_path: Path) -> None:
    # A broken file's stray bracket: the define is read from its line alone, as before.
    defines = NARRATOR + 'define e = Character("Eileen", color=("#c8ffc8"\n'
    assert _lines(tmp_path, defines) == SAID


def test_the_speaker_report_names_the_character(tmp_path: Path) -> None:
    # What `atri prep` reports: the character's lines were "e"'s, so none matched Eileen
    # and the run stopped with "No speaker matched the character (Eileen)".
    (tmp_path / "script.rpy").write_text(
        NARRATOR + DEFINES["the name on the line below"] + SCRIPT, encoding="utf-8"
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    result = run_pipeline(settings, [tmp_path / "script.rpy"])
    assert result.problem is None
    assert {(s.name, s.lines, s.role) for s in result.stats.speakers} == {
        ("Eileen", 2, "character"),
        ("Max", 2, "lead"),
    }


def test_a_character_called_over_a_backslash(tmp_path: Path) -> None:
    # `$ e \` then `("Hi")`: Python joins the lines, so e is called; the call was taken for
    # one of "e \\" (no character) and its line lost, on a `$` line and in a python block
    # that is not Python 3 as a whole (a Python 2 `print` in it).
    script = (
        'define e = Character("Eileen")\nlabel start:\n'
        '    $ e \\\n        ("Hi.")\n'
        '    $ renpy.say(e, \\\n        "Two.")\n'
        '    python:\n        print "old"\n        e \\\n            ("Three.")\n'
        '    e "Four."\n'
    )
    parsed = renpy_format.parse(script, "s.rpy", ParseOptions())
    assert [(u.speaker, u.text, u.line) for u in parsed] == [
        ("Eileen", "Hi.", 4),
        ("Eileen", "Two.", 6),
        ("Eileen", "Three.", 10),
        ("Eileen", "Four.", 11),
    ]

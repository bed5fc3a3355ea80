"""Characters defined in Python, as Ren'Py 6 games do (`init:` then `$ e = Character(...)`,
`init python:` then `e = Character(...)`), or in Ren'Py's `character` namespace
(`define character.k = Character(...)`, said as `k "…"`), name their speakers as
`define e = Character(...)` does. Only `define x = Character(...)` was read, so each of
these characters' lines had its variable ("e") as the speaker, and `atri prep` found no
line of the character it was asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import characters as renpy_characters
from dataprep.pipeline import run_pipeline

SCRIPT = """label start:
    m "Hello, Eileen."
    e "Hi, Max."
    e "See you."
"""
SAID = [("Max", "Hello, Eileen."), ("Eileen", "Hi, Max."), ("Eileen", "See you.")]
MAX = 'define m = Character("Max")\n'

DEFINES = {
    "init: then $": 'init:\n    $ e = Character("Eileen", color="#c8ffc8")\n',
    "init python: over lines": (
        'init python:\n    e = Character("Eileen",\n                  who_color="#c8c8ff")\n'
    ),
    "init -1 python:, a translatable name": 'init -1 python:\n    e = Character(_("Eileen"))\n',
    "init python early:, the name keyword": (
        "init python early:\n    x = 1\n    e = Character(color='#fff', name='Eileen')\n"
    ),
    "python: inside init:": 'init:\n    python:\n        e = Character("Eileen")\n',
    "the character namespace": 'define character.e = Character("Eileen")\n',
    # Ren'Py runs it before the character speaks, as it does an init block.
    "$ in the story": 'label intro:\n    $ e = Character("Eileen")\n    return\n',
    "python: in the story": 'label intro:\n    python:\n        e = Character("Eileen")\n',
}
# Python that defines no character of the store's: a function's local, a branch's (Ren'Py
# runs it only if its condition holds), a `python hide:` block's local, a string's line.
# Each comes after the definition that holds, so that, read, it would be the one kept.
NOT_DEFINES = {
    "a function's local": (
        'init python:\n    e = Character("Eileen")\n    def f():\n        e = Character("Wrong")\n'
    ),
    "a branch's": 'init python:\n    e = Character("Eileen")\n    if x:\n        e = Character("Wrong")\n',
    "python hide:": (
        'init python:\n    e = Character("Eileen")\ninit 1 python hide:\n    e = Character("Wrong")\n'
    ),
    "a string at the top level": (
        'init python:\n    e = Character("Eileen")\n    doc = """\n    e = Character("Wrong")\n    """\n'
    ),
}


def _said(script: str) -> list[tuple[str | None, str]]:
    parsed = renpy_format.parse(script, "script.rpy", ParseOptions())
    return [(u.speaker, u.text) for u in parsed]


@pytest.mark.parametrize("define", DEFINES.values(), ids=DEFINES.keys())
def test_a_character_defined_in_python_names_its_speaker(define: str) -> None:
    assert _said(MAX + define + SCRIPT) == SAID


@pytest.mark.parametrize("define", NOT_DEFINES.values(), ids=NOT_DEFINES.keys())
def test_python_that_defines_no_store_character(define: str) -> None:
    assert _said(MAX + define + SCRIPT) == SAID


def test_the_old_tutorials_defines_all_at_once() -> None:
    script = (
        'init:\n    $ e = Character("Eileen", color="#c8ffc8")\n'
        'init python:\n    s = Character("Sylvie",\n                  who_color="#c8c8ff")\n'
        'init -1 python:\n    m = Character(_("Me"))\n'
        'define character.k = Character("Kyo")\n'
        'init python in cast:\n    d = DynamicCharacter("d_name")\n'
    )
    assert renpy_characters.collect_characters(script) == {
        "e": "Eileen",
        "s": "Sylvie",
        "m": "Me",
        "character.k": "Kyo",
        "k": "Kyo",
        # `in cast`: the variable is `cast.d`; a DynamicCharacter, named at run time.
        "cast.d": "cast.d",
    }


def test_the_speaker_report_names_the_character(tmp_path: Path) -> None:
    # What `atri prep` reports: the character's lines were "e"'s, so none matched Eileen
    # and the run stopped with "No speaker matched the character (Eileen)".
    (tmp_path / "characters.rpy").write_text(
        'init:\n    $ m = Character("Max")\ninit python:\n    e = Character(\n        "Eileen")\n',
        encoding="utf-8",
    )
    (tmp_path / "script.rpy").write_text(SCRIPT, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    result = run_pipeline(settings, [tmp_path / "characters.rpy", tmp_path / "script.rpy"])
    assert result.problem is None
    assert {(s.name, s.lines, s.role) for s in result.stats.speakers} == {
        ("Eileen", 2, "character"),
        ("Max", 1, "lead"),
    }

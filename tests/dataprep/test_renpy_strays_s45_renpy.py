"""Ren'Py stray quote marks, session 45: a stray's string was joined to the line below
when that line's dialogue opens with a blank and a word a string's tail may hold
(`e " and then?`), and through a `with` statement below a stray (`with dissolve`)."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format

HEADS = 'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'
Said = list[tuple[int, str | None, str]]


def _said(text: str, dropped: str | None = None) -> Said:
    """(line, speaker, text) of each line read (of those dropped for `dropped`, if given)."""
    found = renpy_format.parse(text, "s.rpy", ParseOptions())
    return [(u.line, u.speaker, u.text) for u in found if u.dropped == dropped]


# (The script's body; the lines read; the lines left out, their text after the quote mark.)
CASES: dict[str, tuple[str, Said, Said]] = {
    # Line 5's quote mark closed line 4's string: "Hello. e" was read as a line of Eileen.
    "a stray opening with a blank and `and`": (
        '    e "Hello.\n    e " and then?\n    m "Ok."\n',
        [(6, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (5, "Eileen", " and then?")],
    ),
    "a stray opening with a blank and `in`": (
        '    e "Hello.\n    m " in a minute.\n    e "Ok."\n',
        [(6, "Eileen", "Ok.")],
        [(4, "Eileen", "Hello."), (5, "Max", " in a minute.")],
    ),
    # "Hello. with dissolve centered" was read as a line of Eileen, and "Chapter Two"
    # left out as a stray of its own.
    "a with statement below a stray": (
        '    e "Hello.\n    with dissolve\n    centered "{size=+10}\n    Chapter Two"\n'
        '    m "Ok."\n',
        [(6, None, "Chapter Two"), (8, "Max", "Ok.")],
        [(4, "Eileen", "Hello.")],
    ),
    # Strings Ren'Py takes over lines stay one line of dialogue.
    "a with clause and a comment after a blank": (
        '    e "Hello\n    dear " with dissolve  # then a pause\n    m "Hi."\n',
        [(4, "Eileen", "Hello dear"), (6, "Max", "Hi.")],
        [],
    ),
    "a with clause of a call after a blank": (
        '    e "Hello\n    dear " with Fade(0.5, color="#000")\n    m "Hi."\n',
        [(4, "Eileen", "Hello dear"), (6, "Max", "Hi.")],
        [],
    ),
    "a with line inside a sentence": (
        '    e "I waited\n    with dissolve\n    and for you."\n    m "Hi."\n',
        [(4, "Eileen", "I waited with dissolve and for you."), (7, "Max", "Hi.")],
        [],
    ),
}


@pytest.mark.parametrize("body, said, unclosed", CASES.values(), ids=CASES.keys())
def test_each_stray_quote_mark_loses_its_own_line(body: str, said: Said, unclosed: Said) -> None:
    text = HEADS + body
    assert _said(text) == said
    assert _said(text, renpy_format.UNCLOSED_STRING) == unclosed
    assert sorted(renpy_format.say_identifiers(text).values()) == [line for line, *_ in said]

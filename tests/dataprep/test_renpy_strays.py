"""Ren'Py stray quote marks: two strays on adjacent lines, say statements below a stray
whose dialogue opens with a word a string's tail may hold (`with`, `in`, `and`, after a
blank too), and a `with` statement below one, are each a statement of their own, not
lines of the stray's string."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import say_ids as renpy_say_ids

HEADS = 'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'
Said = list[tuple[int, str | None, str]]


def _said(text: str, dropped: str | None = None) -> Said:
    """(line, speaker, text) of each line read (of those dropped for `dropped`, if given)."""
    found = renpy_format.parse(text, "s.rpy", ParseOptions())
    return [(u.line, u.speaker, u.text) for u in found if u.dropped == dropped]


# (The script's body; the lines read; the lines left out, their text after the quote mark.)
STRAYS: dict[str, tuple[str, Said, Said]] = {
    # Line 5's quote mark closed line 4's string: "Hello. m" was read as a line of Eileen.
    "two strays": (
        '    e "Hello.\n    m "Hi.\n    e "Fine."\n',
        [(6, "Eileen", "Fine.")],
        [(4, "Eileen", "Hello."), (5, "Max", "Hi.")],
    ),
    "three strays": (
        '    e "Hello.\n    m "Hi.\n    e "Fine.\n    m "Ok."\n',
        [(7, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (5, "Max", "Hi."), (6, "Eileen", "Fine.")],
    ),
    # Narration's stray below a line's: "Hi." was lost without a word.
    "a stray of narration": (
        '    e "Hello.\n    "Hi.\n    e "Fine."\n',
        [(6, "Eileen", "Fine.")],
        [(4, "Eileen", "Hello."), (5, None, "Hi.")],
    ),
    "a statement between": (
        '    e "Hello.\n    with dissolve\n    e "Fine.\n    m "Ok."\n',
        [(7, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (6, "Eileen", "Fine.")],
    ),
}
# Dialogue that opens with a word a string's tail may hold: `m "with you.` read as the
# stray's string ending in `with you.` ("Hello. m" a line of Eileen).
LOWERCASE = {
    "a stray's line opening with": (
        '    e "Hello.\n    m "with you.\n    e "Fine."\n',
        [(6, "Eileen", "Fine.")],
        [(4, "Eileen", "Hello."), (5, "Max", "with you.")],
    ),
    "a stray's line opening in": (
        '    e "Hello.\n    e "in a minute.\n    m "Ok."\n',
        [(6, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (5, "Eileen", "in a minute.")],
    ),
    "a stray's line opening and, narration": (
        '    e "Hello.\n    "and so it went.\n    m "Ok."\n',
        [(6, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (5, None, "and so it went.")],
    ),
    "with": (
        '    e "Hello.\n    m "with you."\n    e "Fine.\n    m "Ok."\n',
        [(5, "Max", "with you."), (7, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (6, "Eileen", "Fine.")],
    ),
    "in": (
        '    e "Hello.\n    e "in a minute."\n    m "Bye.\n    e "Bye."\n',
        [(5, "Eileen", "in a minute."), (7, "Eileen", "Bye.")],
        [(4, "Eileen", "Hello."), (6, "Max", "Bye.")],
    ),
    "and, a with clause after it": (
        '    e "Hello.\n    m "and you? " with dissolve\n    e "So.\n    m "Ok."\n',
        [(5, "Max", "and you?"), (7, "Max", "Ok.")],
        [(4, "Eileen", "Hello."), (6, "Eileen", "So.")],
    ),
    "a menu choice": (
        '    e "Well.\n    menu:\n        "if you say so":\n            m "Fine.\n    m "Done."\n',
        [(8, "Max", "Done.")],
        [(4, "Eileen", "Well."), (7, "Max", "Fine.")],
    ),
}
# Strings Ren'Py takes over lines stay one line of dialogue.
OVER_LINES = {
    "a with clause after a blank": (
        '    e "Hello\n    dear " with dissolve\n    m "Hi."\n',
        [(4, "Eileen", "Hello dear"), (6, "Max", "Hi.")],
        [],
    ),
    "words of a tail inside": (
        '    e "I waited\n    with you\n    and for you."\n    m "Hi."\n',
        [(4, "Eileen", "I waited with you and for you."), (7, "Max", "Hi.")],
        [],
    ),
}
# Session 45: a stray's string ran on into a line opening with a blank and a tail word,
# and through a `with` statement below it.
BLANK_THEN_WORD: dict[str, tuple[str, Said, Said]] = {
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
CASES = {**STRAYS, **LOWERCASE, **OVER_LINES, **BLANK_THEN_WORD}


@pytest.mark.parametrize("body, said, unclosed", CASES.values(), ids=CASES.keys())
def test_each_stray_quote_mark_loses_its_own_line(body: str, said: Said, unclosed: Said) -> None:
    text = HEADS + body
    assert _said(text) == said
    # Each line left out is counted, with its speaker.
    assert _said(text, renpy_format.UNCLOSED_STRING) == unclosed
    # The translation identifiers are those of the statements read.
    assert sorted(renpy_say_ids.say_identifiers(text).values()) == [line for line, *_ in said]

"""A string Ren'Py takes over lines whose line below a sentence's end reads as a `with`
statement (`e "I waited.`, `with you`, `and for you."`): Ren'Py joins the string's lines,
closed on the last one, into one line of dialogue. The stray-quote reader took the
`with` line for a statement of its own, below a stray: "I waited." was dropped as an
unclosed string and "and for you." lost without a count. A `with` statement below a
stray whose string closes where no say statement ends stays one of its own
(test_renpy_strays.py)."""

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


OVER_LINES: dict[str, tuple[str, Said]] = {
    "a with line below a sentence's end": (
        '    e "I waited.\n    with you\n    and for you."\n    m "Hi."\n',
        [(4, "Eileen", "I waited. with you and for you."), (7, "Max", "Hi.")],
    ),
    "a transition's name": (
        '    e "We left.\n    with dissolve\n    she said."\n    m "Hi."\n',
        [(4, "Eileen", "We left. with dissolve she said."), (7, "Max", "Hi.")],
    ),
    "a with clause after the string": (
        '    e "I waited.\n    with you\n    all night." with dissolve\n    m "Hi."\n',
        [(4, "Eileen", "I waited. with you all night."), (7, "Max", "Hi.")],
    ),
    "two with lines": (
        '    e "I waited.\n    with you\n    and waited.\n    with him\n    and for you."\n'
        '    m "Hi."\n',
        [(4, "Eileen", "I waited. with you and waited. with him and for you."), (9, "Max", "Hi.")],
    ),
    "single quotes": (
        "    e 'I waited.\n    with you\n    and for you.'\n    m \"Hi.\"\n",
        [(4, "Eileen", "I waited. with you and for you."), (7, "Max", "Hi.")],
    ),
}


@pytest.mark.parametrize("body, said", OVER_LINES.values(), ids=OVER_LINES.keys())
def test_a_string_over_a_with_line_is_one_line(body: str, said: Said) -> None:
    text = HEADS + body
    assert _said(text) == said
    assert _said(text, renpy_format.UNCLOSED_STRING) == []
    # The translation identifiers are those of the statements read.
    assert sorted(renpy_say_ids.say_identifiers(text).values()) == [line for line, *_ in said]


def test_a_with_statement_below_a_stray_whose_string_never_closes_ends_it() -> None:
    # The stray's string, read on over the `with` line, would close at `e "` below and
    # leave `Fine."` after it: no statement Ren'Py takes.
    text = HEADS + '    e "Hello.\n    with you\n    e "Fine."\n'
    assert _said(text) == [(6, "Eileen", "Fine.")]
    assert _said(text, renpy_format.UNCLOSED_STRING) == [(4, "Eileen", "Hello.")]

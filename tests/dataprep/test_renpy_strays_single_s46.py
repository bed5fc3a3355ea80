"""A stray `'` (`e 'I waited.`, never closed) above a say statement in double quotes
whose tail holds a `'` (`m "Bye." (who_color='#fff')`): that `'` closed the stray's
string, joining both lines into one line of Eileen's. A string's line that holds an
escaped apostrophe, below a `'` string left open, stays that string's."""

from __future__ import annotations

from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format

HEADS = 'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'


def _said(body: str) -> list[tuple[int, str | None, str, str | None]]:
    found = renpy_format.parse(HEADS + body, "s.rpy", ParseOptions())
    return [(u.line, u.speaker, u.text, u.dropped) for u in found]


def test_a_say_statement_in_other_quotes_below_a_stray_is_its_own() -> None:
    body = '    e \'I waited.\n    m "Bye." (who_color=\'#fff\')\n    e "Done."\n'
    assert _said(body) == [
        (4, "Eileen", "I waited.", renpy_format.UNCLOSED_STRING),
        (5, "Max", "Bye.", None),
        (6, "Eileen", "Done.", None),
    ]


def test_a_double_quoted_stray_reads_the_same() -> None:
    body = '    e "I waited.\n    m \'Bye.\' (who_color="#fff")\n    e "Done."\n'
    assert [(line, who) for line, who, _, _ in _said(body)] == [
        (4, "Eileen"),
        (5, "Max"),
        (6, "Eileen"),
    ]


def test_a_strings_line_with_an_apostrophe_stays_the_strings() -> None:
    body = '    e \'He said\n    "hi" to me, didn\\\'t he.\'\n    e "Done."\n'
    assert _said(body) == [
        (4, "Eileen", 'He said "hi" to me, didn\'t he.', None),
        (6, "Eileen", "Done.", None),
    ]

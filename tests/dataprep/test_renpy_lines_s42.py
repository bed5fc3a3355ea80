"""One rule for where a Ren'Py statement ends (`renpy_lines.logical_line`). Four copies of
it disagreed: the reader of say statements (`renpy.parse`) joined lines at triple quotes
wherever they stood (in a comment, inside a one-quote string) and never at a bracket or a
backslash, while the translation identifiers (`say_identifiers`) followed Ren'Py's
logical lines, but took a comment ending in a backslash for a line joined to the next.
Each script below is one where they disagreed; now the lines read and the say
statements identified are the same ones, those Ren'Py sees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.formats.renpy.lines import MAX_STRING_LINES, LogicalLine, logical_line, scanned

HEAD = 'define e = Character("Eileen")\nlabel start:\n'

CASES = {
    # The `"""` of comments opened a string over the lines between them: lost.
    "triple quotes in comments": (
        HEAD + '    e "One."  # """\n    e "Two."\n    e "Three."  # """\n    e "Four."\n',
        [
            (3, "Eileen", "One."),
            (4, "Eileen", "Two."),
            (5, "Eileen", "Three."),
            (6, "Eileen", "Four."),
        ],
    ),
    # The `'''` said inside a string opened one over the lines down to the next: lost.
    "triple quotes inside strings": (
        HEAD + "    e \"She typed ''' and left.\"\n    e \"Two.\"\n    e \"Back: '''\"\n",
        [
            (3, "Eileen", "She typed ''' and left."),
            (4, "Eileen", "Two."),
            (5, "Eileen", "Back: '''"),
        ],
    ),
    # A statement's arguments over two lines: the string argument was read as narration.
    "a string line inside brackets": (
        HEAD + '    show screen notice(\n        "Saved.")\n    e "Hi."\n',
        [(5, "Eileen", "Hi.")],
    ),
    # The speaker joined to the string by a backslash: the string was read as narration.
    "a backslash at a line's end": (
        HEAD + '    e \\\n        "Hello."\n    e "Two."\n',
        [(3, "Eileen", "Hello."), (5, "Eileen", "Two.")],
    ),
    # A comment ending in a backslash joined the next statement: neither was identified.
    "a backslash ending a comment": (
        HEAD + '    e "One."  # C:\\\n    e "Two."\n',
        [(3, "Eileen", "One."), (4, "Eileen", "Two.")],
    ),
    # A list over lines in a python block, its second line at column 0: the block ended
    # there, and that line was read as narration.
    "a python block's bracket at column 0": (
        HEAD + '    python:\n        names = [\n"Nobody"]\n    e "Hi."\n',
        [(6, "Eileen", "Hi.")],
    ),
    # A string open over more lines than a string runs: the identifiers joined it to the
    # line that closed it, the reader took it for a stray quote mark.
    "a string open too long": (
        HEAD
        + '    e "Hello\n'
        + "    show bg\n" * (MAX_STRING_LINES + 5)
        + '    world."\n    e "Bye."\n',
        [(MAX_STRING_LINES + 10, "Eileen", "Bye.")],
    ),
}


def _said(text: str) -> list[tuple[int, str | None, str]]:
    found = renpy_format.parse(text, "s.rpy", ParseOptions())
    return [(u.line, u.speaker, u.text) for u in found if u.dropped is None]


@pytest.mark.parametrize("name", list(CASES))
def test_the_lines_read_and_the_statements_identified_agree(name: str) -> None:
    text, expected = CASES[name]
    said = _said(text)
    assert said == expected
    assert sorted(renpy_say_ids.say_identifiers(text).values()) == [line for line, *_ in said]


def test_a_logical_line_drops_comments_and_reads_python_strings_as_python() -> None:
    lines = [
        '    e "It\'s # not a comment" (',
        '        what_color="#fff")  # a comment',
        '    $ e("Hello',
        '        world.")',
    ]
    assert logical_line(lines, 1) == LogicalLine(
        '    e "It\'s # not a comment" (\n        what_color="#fff")  ', 2
    )
    # Ren'Py joins a string over lines; Python takes none in one pair of quotes.
    assert logical_line(lines, 3) == LogicalLine("\n".join(lines[2:]), 4)
    assert logical_line(lines, 3, python=True) is None


# Lines made of what the scanner steps on, triple quotes among them.
_PIECES = st.sampled_from(
    ['"', "'", "`", '"""', "'''", "```", "#", "(", ")", "[", "}", "\\", " ", "a"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join), st.booleans())
def test_the_quick_way_finds_what_the_scanner_finds(line: str, python: bool) -> None:
    lines = [line, "a ) ] }", "", "x"]
    assert logical_line(lines, 1, python) == scanned(lines, 1, python)


def test_a_python_string_going_on_over_a_backslash_ends_where_python_ends_it() -> None:
    """`$ x = "a\\` then `b"` is one Python statement (the backslash escapes the line's
    end): it was read as never closed, and its second line's quote opened a string that
    took the say statements below with it."""
    text = (
        HEAD + '    $ note = "first half \\\n second half"\n    e "After."\n    e "Then # this."\n'
    )
    assert _said(text) == [(5, "Eileen", "After."), (6, "Eileen", "Then # this.")]
    lines = text.splitlines()
    assert logical_line(lines, 3, python=True) == LogicalLine(lines[2] + "\n" + lines[3], 4)
    # An even run of backslashes is one escaped backslash: the string is left open.
    assert logical_line(['$ x = "a\\\\', 'b"'], 1, python=True) is None

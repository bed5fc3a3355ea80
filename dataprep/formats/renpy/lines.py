"""Where a Ren'Py statement ends: the one scanner every reader of Ren'Py statements uses.

Ren'Py reads a script as logical lines (renpy/lexer.py `list_logical_lines`): physical
lines joined while a bracket or a string is open, or after a backslash that ends a line
outside a string and a comment; a comment (`#` outside a string) runs to its line's end
and is dropped. A string opens with one or three of `"`, `'` or `` ` ``, wherever it is
(a quote in a comment opens none, a triple quote inside a string opens none). A `$` line
is then Python, which takes no string in one pair of quotes over a line's end. A string in
one pair of quotes left open above a line that is a say statement of its own was opened by
a stray quote mark (so is one above a `with` statement below a sentence's end, unless it
closes below that where a say statement may end): Ren'Py
reports a parse error there; we read that statement as never closed (`_starts_statement`),
and the lines below as statements of their own.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A line that is a statement of its own, as most are (the scanner's quick way): its
# strings all close on it, none triple-quoted, its brackets too, none inside another;
# then maybe a comment (group 2). One ending in a backslash outside a comment goes on.
_CLOSED_STRING = r""""(?!"")(?:[^"\\]|\\.)*"|'(?!'')(?:[^'\\]|\\.)*'|`(?!``)(?:[^`\\]|\\.)*`"""
_PLAIN = rf"""[^"'`#()\[\]{{}}]|{_CLOSED_STRING}"""
_WHOLE_LINE = re.compile(rf"((?:{_PLAIN}|[(\[{{](?:{_PLAIN})*+[)\]}}])*+)(#.*)?")
# A string's opening quotes, a comment, a bracket: what the scanner steps on.
_PIECE = re.compile(r'"""|\'\'\'|```|["\'`#()\[\]{}]')


def _rest_of_string(quotes: str) -> re.Pattern[str]:
    """The rest of a string after its opening `quotes`, up to and with its closing ones;
    an escaped character (a backslash that ends the line too) closes none."""
    q = quotes[0]
    if len(quotes) == 1:
        return re.compile(rf"(?:[^\\{q}]|\\.)*{q}")
    return re.compile(rf"(?:[^\\{q}]|\\.|{q}(?!{q}{q}))*{q}{q}{q}")


_REST_OF_STRING = {
    quotes: _rest_of_string(quotes) for quotes in ('"', "'", "`", '"""', "'''", "```")
}
# The most lines a statement goes on over while what is open at their end is a string in
# one pair of quotes, a triple-quoted string, or a bracket (or a backslash joins them):
# past it, it is a stray quote mark or bracket of a broken file, never closed, and the
# lines below are read as the statements they are.
MAX_STRING_LINES = 20
MAX_TRIPLE_LINES = 400
MAX_BRACKET_LINES = 40
# A say statement's start: blanks, then a speaker and its attributes (`e happy @ sad`) if
# any, then a string's opening quote.
_SAY_HEAD = re.compile(r"[ \t]*(?:[^\W\d][\w.]*(?:[ \t]*@[ \t]*[\w-]+|[ \t]+[\w-]+)*[ \t]+)?")
# What may follow a string that ends a statement's string over lines: nothing, a say
# statement's tail (`with`, `id`, arguments, a choice's `:` or `if`), Python's operators
# and brackets, after a blank (`world " with dissolve`) if a word. Words do not (nor an
# ellipsis), nor a word right after the quote mark, even one of those (`e "with you."`,
# `m "and then?"`): they are the next statement's dialogue.
_AFTER_STRING = re.compile(
    r"[ \t]*(?:$|\.(?!\.)|!=|[()\[\]{},:;#+\-*/%|&<>=@^~\\])"
    r"|[ \t]+(?:with|id|nointeract|if|at|as|onlayer|zorder|behind|and|or|not|in|is|for|else)\b"
)


# Prose where a string's tail would be (`e " and then?`, `e " in a minute.`): two words
# neither a keyword, sentence punctuation, a full stop ending a word; read after the
# strings in it are dropped and before a comment.
_TAIL_KEYWORDS = (
    "with|id|nointeract|if|at|as|onlayer|zorder|behind|and|or|not|in|is|for|else|None|True|False"
)
_PROSE = re.compile(
    rf"\b(?!(?:{_TAIL_KEYWORDS})\b)[^\W\d]\w*[ \t]+(?!(?:{_TAIL_KEYWORDS})\b)[^\W\d]"
    r"|[?!](?!=)|(?<=\w)\.(?![\w.])"
)
_CLOSED_STRINGS = re.compile(_CLOSED_STRING)
# A `with` statement (`with dissolve`, `with Fade(0.5, color="#000")`) on a line of its
# own, and the end of a sentence: a stray's line above it.
_WITH_STATEMENT = re.compile(
    rf"[ \t]*with[ \t]+[^\W\d][\w.]*(?:\((?:[^()\"'`#]|{_CLOSED_STRING})*\))?[ \t]*(?:#.*)?"
)
_SENTENCE_END = re.compile(r"[.!?\u2026~][ \t]*$")
# What may follow a say statement's string at its end: nothing, a comment, its
# arguments, a menu choice's `:`, or a clause (`with dissolve`); never dialogue
# (`centered "{size=+10}`: a text tag opens the next statement's words).
_SAY_END = re.compile(r"[ \t]*(?:$|[#(:])|[ \t]+(?:with|id|nointeract|if)\b")


class LogicalLine(NamedTuple):
    """A statement as Ren'Py reads it: its physical lines joined by "\\n", comments
    dropped, and its last line (1-based)."""

    text: str
    last: int


def logical_line(lines: list[str], number: int, python: bool = False) -> LogicalLine | None:
    """The statement that begins on line `number` (1-based) of `lines`; None when it is
    never closed (at the end of the lines, or past the lines allowed). `python`: read as a
    `$` line's Python, which a string in one pair of quotes left open at a line's end
    makes no statement at all (None)."""
    first = lines[number - 1]
    whole = _WHOLE_LINE.fullmatch(first)
    if whole is not None and (whole.group(2) is not None or not first.endswith("\\")):
        return LogicalLine(whole.group(1), number)
    return scanned(lines, number, python)


def scanned(lines: list[str], number: int, python: bool = False) -> LogicalLine | None:
    """`logical_line`, the long way: piece by piece, line by line."""
    kept: list[str] = []
    depth = 0
    quotes: str | None = None  # those of the string open at the end of the last line
    string_lines = triple_lines = bracket_lines = 0
    at = number
    while True:
        text = lines[at - 1]
        pos, end = 0, len(text)
        if quotes is not None:
            closed = _REST_OF_STRING[quotes].match(text)
            pos = len(text) if closed is None else closed.end()
            quotes = quotes if closed is None else None
        while quotes is None and (piece := _PIECE.search(text, pos)) is not None:
            found, pos = piece.group(0), piece.end()
            if found == "#":
                end = piece.start()
                break
            if found in "([{":
                depth += 1
            elif found in ")]}":
                depth -= 1
            elif (closed := _REST_OF_STRING[found].match(text, pos)) is not None:
                pos = closed.end()
            else:
                quotes = found
        kept.append(text[:end])
        backslash = end == len(text) and text.endswith("\\")
        if quotes is None and depth <= 0 and not backslash:
            return LogicalLine("\n".join(kept), at)
        if quotes is None:
            bracket_lines += 1
        elif len(quotes) == 3:
            triple_lines += 1
        elif python and not _escaped_line_end(text):
            return None
        else:
            string_lines += 1
        if (
            at >= len(lines)
            or string_lines > MAX_STRING_LINES
            or triple_lines > MAX_TRIPLE_LINES
            or bracket_lines > MAX_BRACKET_LINES
            or (quotes is not None and len(quotes) == 1 and _starts_statement(lines, at, quotes))
        ):
            return None
        at += 1


def _starts_statement(lines: list[str], at: int, quote: str) -> bool:
    """Whether the line below line `at` (1-based), which left a string in `quote` marks
    open, is a statement of its own, so that quote mark was a stray one: a say statement
    (`_starts_say`), or a `with` statement below a sentence's end (`e "Hello.`, then
    `with dissolve`; but `e "I waited`, then `with you`, is a string's line), unless the
    string goes on over it to its end (`_closes_below`)."""
    text = lines[at]
    if _WITH_STATEMENT.fullmatch(text):
        below_sentence = _SENTENCE_END.search(lines[at - 1]) is not None
        return below_sentence and not _closes_below(lines, at + 1, quote)
    return _starts_say(text, quote)


def _closes_below(lines: list[str], at: int, quote: str) -> bool:
    """Whether a string in `quote` marks left open on line `at` (1-based) goes on over the
    lines below and closes where a say statement may end (`e "I waited.`, `with you`,
    `and for you."`: Ren'Py joins the three into one line of dialogue), no line before
    that a say statement of its own."""
    for text in lines[at : at + MAX_STRING_LINES]:
        if _starts_say(text, quote):
            return False
        closed = _REST_OF_STRING[quote].match(text)
        if closed is not None:
            return (
                _SAY_END.match(text, closed.end()) is not None
                and _WHOLE_LINE.fullmatch(text, closed.end()) is not None
                and not text.endswith("\\")
            )
    return False


def _starts_say(text: str, quote: str) -> bool:
    """Whether a line below one that left a string in `quote` marks open is a say statement
    of its own, so that quote mark was a stray one, never closed (a parse error to Ren'Py):
    a speaker (or none) and a string, the words after its first quote mark, where a
    string going on over lines would end, following no string, or following it as
    prose (`_is_prose`), never a statement's tail. A string's line within a
    statement never reads so; a say statement that is a stray's line itself does (`m "Hi.`
    below `e "Hello.`: two strays, each its own line)."""
    head = _SAY_HEAD.match(text)
    at = head.end()  # type: ignore[union-attr]
    if not text.startswith(quote, at):
        return _closed_say(text, at, quote)
    return _AFTER_STRING.match(text, at + 1) is None or _is_prose(text[at + 1 :])


def _closed_say(text: str, at: int, quote: str) -> bool:
    """Whether `text` is a say statement in other quote marks than the open string's, its
    string starting at `at`, that holds a `quote` mark: whole on its line, a statement's
    tail after its string (`m "Bye." (who_color='#fff')`, whose `'` would close a stray
    `'`). Without one it may be words of the string (`'She wrote`, `m "Hi."`,
    `on the wall.'`); a string's line going on has words after its string."""
    string = _CLOSED_STRINGS.match(text, at)
    return (
        string is not None
        and quote in text.replace("\\" + quote, "")
        and _WHOLE_LINE.fullmatch(text) is not None
        and _AFTER_STRING.match(text, string.end()) is not None
    )


def _is_prose(tail: str) -> bool:
    """Whether what would follow a string's end is words, not a statement's tail: a say
    statement's dialogue that begins with a blank and a keyword (`e " and then?`)."""
    code = _CLOSED_STRINGS.sub('""', tail).partition("#")[0]
    return _PROSE.search(code) is not None


def _escaped_line_end(text: str) -> bool:
    """Whether a line ends in a backslash that escapes its line end (an odd run of them):
    a Python string in one pair of quotes goes on over it (`$ x = "a\\`, then `b"`)."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1

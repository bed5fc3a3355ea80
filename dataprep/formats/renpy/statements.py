"""The statements of a Ren'Py script as every reader of it tells them apart.

The parser (`renpy.parse`), the passes that read characters and label runs
(`characters`, `labels`) and the say identifiers (`say_ids`) each walk a
script's statements; what they must read alike lives here, once: the strings a statement
holds, the shapes of the statements more than one of them recognizes (a label, a menu, a
block of code, `rpy monologue`, what no speaker is), a statement over several lines read
as one, the block a statement opens and the statements a block holds, and the lines a
triple-quoted string makes. Where a statement ends is `lines`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from dataprep.formats.renpy.lines import logical_line

# A string in double or single quotes (Ren'Py takes either), escapes included.
STR = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
# `menu:` or `menu name:` (a menu with a label), maybe a comment after it; its choices
# are indented below it.
MENU = re.compile(r"menu(?:\s+[\w.]+)?\s*(?:\(.*\))?\s*:\s*(?:#.*)?$")
MENU_LABEL = re.compile(r"menu\s+([\w.]+)")
# What comes before a `#` comment after a statement (a string may hold a "#").
BEFORE_COMMENT = re.compile(rf"""(?:{STR}|[^"'#])*""")
LABEL = re.compile(r"\s*label\s+([\w.]+)\s*(?:\(.*\))?\s*:")
# Statements that take a string but are not dialogue.
NOT_SPEAKERS = frozenset(
    [
        "show",
        "scene",
        "hide",
        "play",
        "queue",
        "stop",
        "voice",
        "sound",
        "music",
        "jump",
        "call",
        "image",
        "define",
        "default",
        "old",
        "new",
        "text",
        "textbutton",
        "style",
        "window",
        "pause",
        "with",
        "renpy",
        "python",
        "init",
        "menu",
        "if",
        "elif",
        "while",
        "return",
        "translate",
        "screen",
        "label",
        "transform",
        "at",
        "as",
        "behind",
        "onlayer",
        "zorder",
        "camera",
    ]
)
# A statement that opens a block of code or interface (its indented body is skipped): a
# layered image's and an ATL block's strings (`always "minamo_base"`, `show minamo:` /
# `"minamo happy"`) are images, never lines. A comment may follow its colon
# (`image e smile: # a softer smile`); its parameters may hold strings, a colon or a "#"
# in them (`screen editor(layer="master"):`, DDLC's `screen poem(currentpoem, paper="paper"):`).
CODE_BLOCK = re.compile(
    r"(?:init(?:\s+[-+]?\d+)?\s+)?(?:python|screen|style|transform|image|layeredimage)\b"
    rf"(?:{STR}|[^\"'#])*:\s*(?:#.*)?$"
    r"|init(?:\s+[-+]?\d+)?\s*:\s*(?:#.*)?$"
    r"|(?:show|scene|camera)\b.*:\s*(?:#.*)?$"
)
# What follows the opening of a triple-quoted string, up to its close (escapes included).
_AFTER_TRIPLE = {
    '"""': r'(?:[^\\"]|\\.|"(?!""))*"""',
    "'''": r"(?:[^\\']|\\.|'(?!''))*'''",
}
TRIPLE = "|".join(f"{quotes}{rest}" for quotes, rest in _AFTER_TRIPLE.items())
# `rpy monologue double|single|none`: where a triple-quoted string is cut into lines.
MONOLOGUE = re.compile(r"rpy\s+monologue\s+(double|single|none)\s*$")
_PARAGRAPH_BREAK = {"double": re.compile(r"\n[ \t]*\n"), "single": re.compile(r"\n")}
_SPACES = re.compile(r"[ \t\n]+")
_LINE_END_SPACES = re.compile(r"[ \t]*\n[ \t]*")
# Where a string (which may run over lines) opens, or a line break outside one; and the
# rest of a string after its opening quote (`STR`'s), up to where it closes or cannot.
_QUOTE_OR_LINE_BREAK = re.compile(r"[\"']|[ \t]*\\?\n[ \t]*")
_STRING_BODY = {q: re.compile(rf"(?:[^{q}\\]|\\.)*+") for q in "\"'"}
_RUNS_OF_SPACES = re.compile(r"[ \t]+")


def block_end(lines: list[str], number: int, indent: int) -> int:
    """The last line (1-based) of the block that line `number`, indented by `indent`,
    opens: the lines below indented deeper, blank and comment lines among them, and the
    lines their statements go on over; the lines the parse loop skips."""
    last = at = number
    while at < len(lines):
        raw = lines[at]
        at += 1
        stripped = raw.strip()
        if not stripped or stripped[0] == "#":
            continue
        if len(raw) - len(raw.lstrip()) <= indent:
            break
        whole = logical_line(lines, at)
        at = last = at if whole is None else whole.last
    return last


def block_statements(lines: list[str], number: int, last: int) -> Iterator[tuple[int, int, int]]:
    """(first line, last line, indent) of each statement of lines `number` + 1 to `last`,
    over the lines it goes on over (`logical_line`); blank and comment lines skipped."""
    at = number
    while at < last:
        raw = lines[at]
        at += 1
        stripped = raw.strip()
        if not stripped or stripped[0] == "#":
            continue
        whole = logical_line(lines, at)
        end = at if whole is None else whole.last
        yield at, end, len(raw) - len(raw.lstrip())
        at = end


def one_line(statement: str) -> str:
    """A statement over several lines as one: each line break a space, in a string as
    Ren'Py shows it, outside one with the backslash that joined the lines."""
    if "\n" not in statement:
        return statement
    pieces: list[str] = []
    done = at = 0
    # Where a string opened in each quote mark was read to and never closed: one opened
    # by a mark before there stops there too (the mark is one escaped in it), so it is
    # not read again; from each of a long run of `\"` it was, quadratic (40k took 5 s).
    unclosed = {'"': 0, "'": 0}
    while (m := _QUOTE_OR_LINE_BREAK.search(statement, at)) is not None:
        start, found = m.start(), m.group(0)
        if found not in unclosed:
            pieces += [statement[done:start], " "]
            done = at = m.end()
            continue
        at = start + 1
        if start < unclosed[found]:
            continue
        end = _STRING_BODY[found].match(statement, at).end()  # type: ignore[union-attr]
        if not statement.startswith(found, end):
            unclosed[found] = end
            continue
        pieces += [statement[done:start], _LINE_END_SPACES.sub(" ", statement[start : end + 1])]
        done = at = end + 1
    return "".join(pieces) + statement[done:]


def monologue_lines(raw: str, first_line: int, mode: str) -> list[tuple[int, str]]:
    """The lines Ren'Py makes of a triple-quoted string (`raw`, quotes included, opened
    on `first_line`): (line number, text) for each paragraph, spaces and line ends in it
    collapsed to one space; with mode "none" the whole string, its line ends kept."""
    inner = raw[3:-3]
    breaks = _PARAGRAPH_BREAK.get(mode)
    pieces: list[tuple[int, str]] = []
    start = 0
    if breaks is not None:
        for m in breaks.finditer(inner):
            pieces.append((start, inner[start : m.start()]))
            start = m.end()
    pieces.append((start, inner[start:]))
    out = []
    for offset, piece in pieces:
        text = piece.strip()
        if not text:
            continue
        lead = len(piece) - len(piece.lstrip())
        line = first_line + inner.count("\n", 0, offset + lead)
        if breaks is None:
            text = _RUNS_OF_SPACES.sub(" ", _LINE_END_SPACES.sub("\n", text))
        else:
            text = _SPACES.sub(" ", text)
        out.append((line, text))
    return out

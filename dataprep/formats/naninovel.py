"""Naninovel `.nani` scripts (Unity).

Each line is one of: a command (`@back Beach`, `@char Kohaku.Happy pos:30`), never
said; a comment (`; …`); a label (`# Chapter2`), which starts a scene; a generic text
line said by an author (`Kohaku: Hello!`, `Kohaku.Happy: Hello!`, the appearance after
the dot being a pose, no part of the name); or narration (any other line).

Text holds inline commands (`[i]` waits for input, `[br]` breaks the line, `[char k
pos:40]`, `[wait 0.5]`): they are deleted, the words kept, as are rich-text tags (`<b>`,
`<tip="VN">`, `<br>` a line break) and the text ids of Naninovel 1.20+ (`Hello.|#12|`).
Of the commands only `@print "text" author:Kohaku` shows words: read as a text line.
A `{expression}` is a value the running game gives: a bare variable (`{PlayerName}`) is
left for the run to fill or name, as other formats' name slots; any other expression
(`{Random(1, 3)}`) makes the line unusable (`UNRESOLVED_VARIABLE`), kept so that the run
names it.

The blocks of an `@if` / `@elseif` / `@else` chain are branches (`Utterance.branch`), as
the Ren'Py reader reads an `if` chain: the game runs one of them, so no exchange goes from
one into another; the lines after the chain go on from those before it where it has no
`@else` (a player may have run none of its blocks). A chain is closed by `@endif`, or,
where its blocks are indented below it (Naninovel's nested blocks), by the first line no
deeper than the `@if`. The `@choice` commands offer the player's pick, never said: a run
of them ends the exchange, and the lines indented below each (its nested block) are a
branch of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dataprep.formats.common import UNRESOLVED_VARIABLE, ParseOptions, join_pieces, tidy_name
from dataprep.records import Utterance

# The commands that open, go on and close a branching block: `@if x`, `@elseif y`,
# `@else`, `@endif`, `@choice "…"`; the command's id, lower case.
_BLOCK_COMMAND = re.compile(r"@(if|elseif|else|endif|choice)(?=\s|$)", re.IGNORECASE)

# `Author: text` or `Author.Appearance: text`: an author id has no blanks, dots, colons or
# brackets, and the colon is followed by a blank (`Note:text` is narration).
_AUTHOR_LINE = re.compile(r"(?P<author>[^\s.:\[\]{}\\\"]+)(?:\.[^\s:\[\]{}\\]+)?:\s+(?P<text>.*)")
# An inline command (`[i]`, `[char k pos:40 wait:false]`); `\[` is a bracket shown.
# Possessive: the name and the rest both take "[", so a run of "[" was split between them
# every way (cubic); only text up to the last "]" is searched (`_shown_text`).
_INLINE_COMMAND = re.compile(r"(?<!\\)\[(?P<name>[^\]\s]*+)[^\]]*+\]")
# `{expression}` not escaped; a bare variable name is a slot the pipeline handles.
_EXPRESSION = re.compile(r"(?<!\\)\{([^{}]*)\}")
_BARE_VARIABLE = re.compile(r"[A-Za-z_]\w*")
# A text identifier Naninovel (1.20+) writes after each piece of localizable text:
# `Hello.|#12|`; the localization tooling's, never shown.
_TEXT_ID = re.compile(r"\|#[^|\s]*\|")
# A TextMeshPro rich-text tag (`<b>`, `</b>`, `<color=#f00>`, `<tip="VN">`, `<br>`): it
# styles the words, never said. Only known tags, so that `a <3 b` stays as written.
# Possessive blanks: after a tag left open, each way of sharing its blanks between `\s+`
# and the rest was tried (quadratic in them).
_RICH_TAG = re.compile(
    r"</?(?P<tag>b|i|u|s|br|color|size|font|tip|ruby|link|mark|sup|sub|alpha|cspace|"
    r"voffset|mspace|noparse|nobr|lowercase|uppercase|smallcaps|style|sprite|indent|"
    r"line-height|line-indent|margin|pos|rotate|strikethrough|underline|align|gradient|"
    r"width|allcaps)(?:\s*+=\s*+[^<>\n]*+|\s++[^<>\n]*+)?>",
    re.IGNORECASE,
)
# `@print "text" author:Kohaku` (the text quoted, `\"` a quote in it, or one bare word).
_PRINT = re.compile(r'@print\s+(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>\S+))(?P<params>.*)', re.I)
_AUTHOR_PARAM = re.compile(r"(?:^|\s)author:(?P<author>[^\s.:]+)")
# Naninovel's escapes: a backslash before a character that would otherwise be syntax.
_ESCAPED = re.compile(r"\\([\[\]{}:;@#\\\"])")


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = 0
    branches = _Branches()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] == ";":
            continue  # blank, or a comment
        block = _BLOCK_COMMAND.match(line)
        branches.reach(len(raw) - len(raw.lstrip()), block[1].lower() if block else None, out)
        if line.lower().startswith("@print "):
            line = _print_as_text(line)
        if line[0] == "@":
            continue  # a command
        if line.startswith("#"):
            scene += 1  # a label: where `@goto` lands, a new scene
            continue
        speaker, said = _author_and_text(line)
        said, unresolved = _shown_text(said)
        if not said:
            continue
        if speaker is None and marker is not None and marker(said):
            scene += 1
            continue
        dropped = UNRESOLVED_VARIABLE if unresolved else None
        branch, forked_from = branches.branch, branches.forked_from
        out.append(
            Utterance(speaker, said, source, number, str(scene), dropped, branch, forked_from)
        )
    return out


@dataclass(slots=True)
class _Block:
    """An open `@if` chain (or run of `@choice`s: `choice`), at `indent`, with the branch
    and `forked_from` in force at it and how many lines were read before it."""

    indent: int
    branch: int
    forked_from: int | None
    read_before: int
    choice: bool
    has_else: bool = False
    nested: bool | None = None  # its blocks indented below it? Told at their first line.
    parent: int | None = None
    parent_known: bool = False

    def parent_of_blocks(self, out: list[Utterance]) -> int | None:
        """The branch each block goes on from: the one the chain is in, or, while that has
        no line yet, the one it goes on from (as the Ren'Py reader's `_Fork`)."""
        if not self.parent_known:
            own_lines = bool(out) and out[-1].branch == self.branch
            self.parent = self.branch if own_lines else self.forked_from
            self.parent_known = True
        return self.parent

    def closed_by(self, indent: int, command: str | None) -> bool:
        """Whether a line at `indent` (a block `command`, or None) is past the block."""
        if indent > self.indent:
            return False
        if self.choice:
            return not (command == "choice" and indent == self.indent)
        goes_on = command in ("elseif", "else", "endif") and indent == self.indent
        return bool(self.nested) and not goes_on


@dataclass(slots=True)
class _Branches:
    """The branch and `forked_from` of each line, as the `@if` chains and `@choice`s
    around it give them."""

    branch: int = 0
    forked_from: int | None = None
    blocks: list[_Block] = field(default_factory=list)

    def reach(self, indent: int, command: str | None, out: list[Utterance]) -> None:
        """Enter a line at `indent`: close the blocks it is past, open or go on to the
        block a `command` starts."""
        top = self.blocks[-1] if self.blocks else None
        if top is not None and top.nested is None and command not in ("elseif", "else", "endif"):
            top.nested = indent > top.indent
        while self.blocks and self.blocks[-1].closed_by(indent, command):
            self.close(out)
        if command == "endif":
            if self.blocks and not self.blocks[-1].choice:
                self.close(out)
        elif command in ("if", "choice") and not (
            command == "choice" and self.blocks and self.blocks[-1].choice
        ):
            self.blocks.append(
                _Block(indent, self.branch, self.forked_from, len(out), command == "choice")
            )
            self.next_block(out)
        elif command in ("elseif", "else", "choice") and self.blocks:
            self.blocks[-1].has_else = self.blocks[-1].has_else or command == "else"
            self.next_block(out)

    def next_block(self, out: list[Utterance]) -> None:
        self.branch += 1
        self.forked_from = self.blocks[-1].parent_of_blocks(out)

    def close(self, out: list[Utterance]) -> None:
        """Close the innermost block: the lines after a chain that read none are where
        they were; after one with no `@else` they go on from those before it; after
        one with an `@else`, or a pick, from none in particular."""
        closed = self.blocks.pop()
        if not closed.choice and len(out) == closed.read_before:
            self.branch, self.forked_from = closed.branch, closed.forked_from
            return
        self.branch += 1
        self.forked_from = closed.parent if not closed.choice and not closed.has_else else None


def _print_as_text(line: str) -> str:
    """A `@print` command as the text line it shows (`Kohaku: text`); the command itself
    where it is not one that can be read."""
    m = _PRINT.fullmatch(line)
    if m is None:
        return line
    text = m["quoted"].replace('\\"', '"') if m["quoted"] is not None else m["bare"]
    author = _AUTHOR_PARAM.search(m["params"])
    return f"{author['author']}: {text}" if author else text


def _author_and_text(line: str) -> tuple[str | None, str]:
    """The author id of a generic text line (None for narration) and its text."""
    m = _AUTHOR_LINE.fullmatch(line)
    if m is None:
        return None, line
    return tidy_name(m["author"]), m["text"]


def _shown_text(text: str) -> tuple[str, bool]:
    """A line's words with its inline commands deleted (`[br]` a line break, joined as
    the words read), and whether it holds an expression no text stands in for."""
    text = _RICH_TAG.sub(_tag_gap, _TEXT_ID.sub("", text))
    # No command starts after the last "]": each "[" there was read to the end (quadratic).
    end = text.rfind("]") + 1
    pieces = (_INLINE_COMMAND.sub(_command_gap, text[:end]) + text[end:]).split("\n")
    joined = join_pieces(pieces)
    unresolved = any(
        not _BARE_VARIABLE.fullmatch(m.group(1).strip()) for m in _EXPRESSION.finditer(joined)
    )
    return _ESCAPED.sub(r"\1", joined), unresolved


def _command_gap(m: re.Match[str]) -> str:
    """What an inline command leaves in the words: a line break for `[br]`, else nothing."""
    return "\n" if m["name"].lower() == "br" else ""


def _tag_gap(m: re.Match[str]) -> str:
    """What a rich-text tag leaves in the words: a line break for `<br>`, else nothing."""
    return "\n" if m["tag"].lower() == "br" else ""

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
"""

from __future__ import annotations

import re

from dataprep.formats.common import UNRESOLVED_VARIABLE, ParseOptions, join_pieces, tidy_name
from dataprep.records import Utterance

# `Author: text` or `Author.Appearance: text`: an author id has no blanks, dots, colons or
# brackets, and the colon is followed by a blank (`Note:text` is narration).
_AUTHOR_LINE = re.compile(r"(?P<author>[^\s.:\[\]{}\\\"]+)(?:\.[^\s:\[\]{}\\]+)?:\s+(?P<text>.*)")
# An inline command (`[i]`, `[char k pos:40 wait:false]`); `\[` is a bracket shown.
_INLINE_COMMAND = re.compile(r"(?<!\\)\[(?P<name>[^\]\s]*)[^\]]*\]")
# `{expression}` not escaped; a bare variable name is a slot the pipeline handles.
_EXPRESSION = re.compile(r"(?<!\\)\{([^{}]*)\}")
_BARE_VARIABLE = re.compile(r"[A-Za-z_]\w*")
# A text identifier Naninovel (1.20+) writes after each piece of localizable text:
# `Hello.|#12|`; the localization tooling's, never shown.
_TEXT_ID = re.compile(r"\|#[^|\s]*\|")
# A TextMeshPro rich-text tag (`<b>`, `</b>`, `<color=#f00>`, `<tip="VN">`, `<br>`): it
# styles the words, never said. Only known tags, so that `a <3 b` stays as written.
_RICH_TAG = re.compile(
    r"</?(?P<tag>b|i|u|s|br|color|size|font|tip|ruby|link|mark|sup|sub|alpha|cspace|"
    r"voffset|mspace|noparse|nobr|lowercase|uppercase|smallcaps|style|sprite|indent|"
    r"line-height|line-indent|margin|pos|rotate|strikethrough|underline|align|gradient|"
    r"width|allcaps)(?:\s*=\s*[^<>\n]*|\s+[^<>\n]*)?>",
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
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.lower().startswith("@print "):
            line = _print_as_text(line)
        if not line or line[0] in "@;":
            continue  # blank, a command or a comment
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
        out.append(Utterance(speaker, said, source, number, str(scene), dropped))
    return out


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
    pieces = _INLINE_COMMAND.sub(_command_gap, text).split("\n")
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

"""Calls of a tag no .ks file given defines (a macro whose definition was left out): whether
its name looks like a character's (`looks_like_name`: `[汐里]`, not `[回想]`), and which of
its attributes holds a line's text (`line_attribute`: `[say text="「おはよう」"]`). The
reader names a speaker by the first and counts both for the hints (`unnamed_calls`,
`text_calls`).
"""

from __future__ import annotations

import re

from dataprep.formats.kirikiri.syntax import HEADING_NAME

# How long a tag no file defines may be to be taken for a character's name.
_LONGEST_NAME = 16
# Attributes never holding a line's text: code (`exp`, `cond`), a file, a jump, a name.
_NOT_TEXT_ATTRIBUTES = frozenset({"exp", "cond", "storage", "target", "name", "graphic"})
# How a value a tag no file defines is given looks when it is a line's text
# (`[say text="「おはよう」"]`, `@say text=今日はいい天気だね。`), as a file, a number, an
# expression, an id (`voice=shi_0101`), a name (`アトリ（幼少）`, `Mr. Smith`) or a
# ruby's reading (`[rb text=なつき]`) does not: a quote mark of a line or a sentence's
# punctuation (`、`, `。`, `…`, `Hello!`, `Good morning.`), or length: ten characters or
# more, none ASCII (a sentence of kana and kanji, where a name or a reading is short), or
# three ASCII words (`Good morning Natsuki`, where a name has two). Conservative: a short
# line with none of these (`やあ`) is not counted, a file of lines has many that are.
_LINE_MARKS = re.compile(r"[「」『』“”、。！？…‥]|[A-Za-z][!?](?:\s|$)|[A-Za-z]\.$")
_LONG_LINE = 10
_LINE_WORDS = re.compile(r"[A-Za-z',]+(?: [A-Za-z',]+){2,}")


def looks_like_name(word: str) -> bool:
    """Whether a tag's name no file defines, not ASCII, is a character's (`汐里`): short,
    with a letter in it, and no heading (`回想`)."""
    return (
        len(word) <= _LONGEST_NAME
        and any(c.isalpha() for c in word)
        and HEADING_NAME.fullmatch(word) is None
    )


def _carries_line(key: str, value: str) -> bool:
    """Whether an attribute of a tag no file defines holds a line's text (`_LINE_MARKS`)."""
    value = value.strip()
    if key in _NOT_TEXT_ATTRIBUTES or len(value) < 2:
        return False
    return bool(
        _LINE_MARKS.search(value)
        or (len(value) >= _LONG_LINE and all(not c.isascii() or c.isspace() for c in value))
        or _LINE_WORDS.fullmatch(value)
    )


def line_attribute(attrs: dict[str, str]) -> str | None:
    """The attribute of a call holding a line's text, `text` first; None when none does,
    or the call jumps (`target`: a choice's)."""
    if "target" in attrs:
        return None
    keys = sorted(attrs, key=lambda key: key != "text")
    return next((key for key in keys if _carries_line(key, attrs[key])), None)

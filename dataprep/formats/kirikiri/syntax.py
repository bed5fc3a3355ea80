"""How a line of a `.ks` scenario is written: its tokens (`TOKEN`: a tag, an escape, text),
a tag's name and attributes (`tag_name_and_attrs`, and the quotes a value is written in:
`unquoted`, `quoted`), `【名】` headers with the headings and voice cues in one that name
nobody, and the code blocks (`[iscript]` … `[endscript]`) whose lines are no text
(`outside_code`). Every pass over a file reads with these: the reader's, the one reading
macro definitions, the one counting name calls.
"""

from __future__ import annotations

import re

from dataprep.formats.common import HEADING, SOUND_REF

# `[[` (KAG) is a literal "[", and TyranoScript's backslash shows the mark after it
# (`\[`, `\]`, `\\`, `\*` at a line's start): only ASCII punctuation, so a Shift-JIS yen
# sign, which decodes as "\" (`\1000`), stays. A tag ends at the first "]" neither in an
# attribute's quoted value (`[eval exp="f.a=[1,2]"]`, `[ruby text="]"]`, TyranoScript's
# `` text=`a]b` ``) nor closing a bracket opened in the tag (`[if exp=f.love[0]>=10]`, two
# deep at most); a quote left open is no value. Possessive: one way to read a tag, so a
# line of many `=""` with no "]" takes no time.
_TAG_BODY = (
    r"""(?:=[ \t]*+(?:"[^"\n]*"|'[^'\n]*'|`[^`\n]*`)"""
    r"""|\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*+\]|[^\]"'`\n]|["'`])*+"""
)
TOKEN = re.compile(rf"""\[\[|\\[!-/:-@\[-`{{-~]|\[({_TAG_BODY})\]?|\\|[^\[\\]+""")
VALUE = r"""("[^"]*"|'[^']*'|`[^`]*`|(?:\[[^\[\]\s]*\]|[^\s\]])+)"""
# Tried only where a name starts, the name never given back: from each letter of a long
# word with no "=" after it, the word was read to its end again (quadratic).
_ATTR = re.compile(rf"""(?<![\w-])([\w-]++)\s*=\s*{VALUE}""")
# The quote marks an attribute's value may be written in, the first the value does not
# hold quoting it (`quoted`).
_VALUE_QUOTES = "\"'`"
# `【名】「台词」`, and `【名】：台词` (a colon after the name is no part of the line).
HEADER = re.compile(r"【([^】]{1,32})】\s*(?:[：:]{1,2}\s*)?(.*)")
HEADING_NAME = re.compile(rf"\s*+{HEADING}\s*+")
# Tags (never a literal `[[`) and blanks before a `【名】` header on its line.
TAGS_BEFORE_HEADER = re.compile(rf"(?:\[(?!\[){_TAG_BODY}\][ \t]*)+(?=【)")
SOUND_NAME = re.compile(SOUND_REF)
# Blocks of code, from a line that starts with the first tag to the second, wherever on
# its line (TyranoScript ends a block there, `f.a = 1;[endscript]「…」`, and shows what
# follows): TJS or JavaScript, and TyranoScript's HTML (`[html]<div>…</div>[endhtml]`).
BLOCKS = {"iscript": "endscript", "html": "endhtml"}
_BLOCK_ENDS = {
    end: re.compile(rf"^@[ \t]*{end}\b.*|\[[ \t]*{end}\b[^\]\n]*\]", re.I)
    for end in BLOCKS.values()
}
TAG_WORD = re.compile(r"[\[@][ \t]*([A-Za-z_]\w*)")


def tag_name_and_attrs(body: str) -> tuple[str, dict[str, str]]:
    body = body.strip()
    name = body.split(None, 1)[0].lower() if body else ""
    attrs = {k.lower(): unquoted(v) for k, v in _ATTR.findall(body)}
    return name, attrs


def unquoted(value: str) -> str:
    """An attribute's value without the quotes it is written in (`"Mr Smith"`): one pair,
    so that a quote mark it holds at an end stays (`'He said "no"'`)."""
    if len(value) >= 2 and value[0] in _VALUE_QUOTES and value[-1] == value[0]:
        return value[1:-1]
    return value.strip(_VALUE_QUOTES)


def quoted(value: str) -> str:
    """A value written as an attribute's, whole whatever it holds (a blank, `]`): in the
    first quote mark it does not hold; KAG has no escape in a tag, so a value holding
    all three loses its `"`."""
    quote = next((q for q in _VALUE_QUOTES if q not in value), None)
    if quote is None:
        quote, value = '"', value.replace('"', "")
    return f"{quote}{value}{quote}"


def outside_code(line: str, block_end: str | None) -> tuple[str | None, str]:
    """The tag ending the code block open after a stripped line (None when none is),
    and what of the line is read: a line that starts a block (`[iscript]`), or one in
    it, is code up to the tag ending it; what follows that tag is read."""
    if block_end is None:
        opening = TAG_WORD.match(line)
        if opening is None or opening.group(1).lower() not in BLOCKS:
            return None, line
        block_end = BLOCKS[opening.group(1).lower()]
        line = line[opening.end() :]
    end = _BLOCK_ENDS[block_end].search(line)
    return (block_end, "") if end is None else (None, line[end.end() :].strip())


def shown_token(token: str) -> str:
    """What a token of text shows: `[[` is `[`, TyranoScript's `\\]` is `]`."""
    return token[-1] if token == "[[" or (token[0] == "\\" and len(token) == 2) else token

"""Split a long reply into messages a platform accepts, at sentence boundaries.

Code blocks (```…```) stay whole when they fit; a longer one is split at line ends into
parts that each open and close the fence. Anything longer than the limit with no boundary
inside is cut hard as a last resort, though not inside a custom emoji or an emoji of
several characters.
"""

from __future__ import annotations

import re

import regex

# A sentence ends after CJK or Latin end punctuation (with closing quotes) or a newline.
# After a Latin mark, not where a word goes on ("example.com", "3.14", "?q=1"): a
# reply was split inside a link it gave, which then led nowhere. A run of marks
# ("……", "？！", "...", "！」？") ends it once, after the last: a part began with "…".
_END_MARKS = "。！？…～!?~."
_SENTENCE_END = re.compile(
    r"(?<=[。！？…～])[」』”\"')）]*+(?![" + _END_MARKS + r"])\s*"
    r"|(?<=[!?~.])[」』”\"')）]*+(?![" + _END_MARKS + r"A-Za-z0-9_/%&=#+@-])\s*"
    r"|\n+"
)
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)


def _pieces(text: str) -> list[str]:
    """Sentences and whole code blocks, in order, whitespace kept with them."""
    pieces: list[str] = []
    pos = 0
    for block in _CODE_BLOCK.finditer(text):
        pieces += _sentences(text[pos : block.start()])
        pieces.append(block.group(0))
        pos = block.end()
    pieces += _sentences(text[pos:])
    return [p for p in pieces if p]


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            out.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


FENCE = "```"


def _split_code_block(block: str, limit: int, lead: str = "") -> list[str]:
    """A fenced block too long for one message: parts that each open and close the fence.
    `lead`, the text before it, goes in front of the first part with the code lines that
    fit beside it (a part of its own when none do): an intro is no message of its own."""
    opener, _, body = block.partition("\n")
    body = body.removesuffix(FENCE).rstrip("\n")
    room = limit - len(opener) - len(FENCE) - 2  # two newlines
    if room < 20:  # a fence that leaves no room for code: plain hard cuts
        cuts = [block[i : i + limit] for i in range(0, len(block), limit)]
        return [lead, *cuts] if lead.strip() else cuts
    lines = body.split("\n")
    parts: list[str] = []
    if lead.strip():
        beside = _lines_within(lines, room - len(lead))
        parts.append(lead + _fenced(opener, "\n".join(lines[:beside])) if beside else lead)
        lines = lines[beside:]
    return parts + [_fenced(opener, code) for code in _code_parts(lines, room)]


def _fenced(opener: str, code: str) -> str:
    return f"{opener}\n{code}\n{FENCE}"


def _lines_within(lines: list[str], room: int) -> int:
    """How many of the first lines fit in `room` characters, joined by newlines."""
    used = -1
    for count, line in enumerate(lines):
        used += len(line) + 1
        if used > room:
            return count
    return len(lines)


def _code_parts(lines: list[str], room: int) -> list[str]:
    """Code lines packed into parts of at most `room` characters; a longer line is cut."""
    parts: list[str] = []
    current = ""
    for line in lines:
        while len(line) > room:  # a line longer than a part: cut hard
            if current:
                parts.append(current)
                current = ""
            cut = hard_cut(line, room)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            parts.append(current)
            candidate = line
        current = candidate
    if current:
        parts.append(current)
    return parts


# What a hard cut keeps whole: Discord's <…> markup (a custom emoji <:name:id>, a
# <#channel>, a <t:…> time), which cut in two shows as its raw text in both parts; a
# character as a reader sees one, a grapheme cluster (👨‍👩‍👧's joiners, a flag's two
# letters, a skin tone, an accent, Thai "กำ", Hangul jamo, an Arabic prepended mark);
# and a run of end marks ("……"). A cut moves back at most this far; past it (a run of
# nothing else) it stays hard.
_MARKUP_TOKEN = re.compile(r"<[^<>\s]{1,100}>")
_GRAPHEME = regex.compile(r"\X")
_MAX_CUT_BACK = 128


def _cluster_start(text: str, at: int) -> int:
    """Where the grapheme cluster holding text[at] begins (`at` itself at a boundary).
    A boundary depends only on what comes before it, so text past `at` is not read."""
    start = 0
    for cluster in _GRAPHEME.finditer(text, 0, at + 1):
        start = cluster.start()
    return start


def hard_cut(piece: str, limit: int) -> int:
    """Where to cut `piece` for at most `limit` characters before the cut: `limit`, or a
    little before it where that would split a whole thing in two."""
    cut = limit
    for token in _MARKUP_TOKEN.finditer(piece, max(0, cut - 102), cut + 102):
        if token.start() < cut < token.end():
            cut = token.start()
            break
    if 0 < cut < len(piece):
        cut = _cluster_start(piece, cut)
    while 0 < cut < len(piece) and piece[cut] in _END_MARKS and piece[cut - 1] in _END_MARKS:
        cut -= 1  # "……" is one mark
    return cut if limit - _MAX_CUT_BACK <= cut and cut > 0 else limit


def _cut_at(piece: str, limit: int) -> int:
    """Where to cut a piece longer than `limit` with no sentence end in it: after the
    last blank that fits (a word, a link, stays whole), else hard near the limit."""
    blank = max(piece.rfind(" ", 0, limit), piece.rfind("\t", 0, limit))
    if blank <= 0:
        return hard_cut(piece, limit)
    word = re.match(r"\S*", piece[blank + 1 :])
    # A word longer than a part is cut hard anyway: then the part is filled first.
    return blank + 1 if word is None or len(word.group()) <= limit else hard_cut(piece, limit)


def split_message(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters each, joined back they give `text` (trimmed)."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for piece in _pieces(text):
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        if piece.startswith(FENCE) and len(piece) > limit:
            # What follows may join the block's last part, as what came before its first.
            *done, current = _split_code_block(piece, limit, current) or [""]  # no code
            parts += done
            continue
        if current.strip():
            parts.append(current)
        current = ""
        while len(piece) > limit:  # no sentence end inside: cut between words if any
            cut = _cut_at(piece, limit)
            parts.append(piece[:cut])
            piece = piece[cut:]
        current = piece
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]

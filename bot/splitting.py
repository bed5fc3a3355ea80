"""Split a long reply into messages a platform accepts, at sentence boundaries.

Code blocks (```…```) stay whole when they fit; a longer one is split at line ends into
parts that each open and close the fence. Anything longer than the limit with no boundary
inside is cut hard as a last resort.
"""

from __future__ import annotations

import re

# A sentence ends after CJK or Latin end punctuation (with closing quotes) or a newline.
# After a Latin mark, not where a word goes on ("example.com", "3.14", "?q=1"): a
# reply was split inside a link it gave, which then led nowhere.
_SENTENCE_END = re.compile(
    r"(?<=[。！？…～])[」』”\"')）]*+\s*"
    r"|(?<=[!?~.])[」』”\"')）]*+(?![A-Za-z0-9_/%&=#+@-])\s*"
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


def _split_code_block(block: str, limit: int) -> list[str]:
    """A fenced block too long for one message: parts that each open and close the fence."""
    opener, _, body = block.partition("\n")
    body = body.removesuffix(FENCE).rstrip("\n")
    room = limit - len(opener) - len(FENCE) - 2  # two newlines
    if room < 20:  # a fence that leaves no room for code: plain hard cuts
        return [block[i : i + limit] for i in range(0, len(block), limit)]
    parts: list[str] = []
    current = ""
    for line in body.split("\n"):
        while len(line) > room:  # a line longer than a part: cut hard
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:room])
            line = line[room:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            parts.append(current)
            candidate = line
        current = candidate
    if current:
        parts.append(current)
    return [f"{opener}\n{part}\n{FENCE}" for part in parts]


def _cut_at(piece: str, limit: int) -> int:
    """Where to cut a piece longer than `limit` with no sentence end in it: after the
    last blank that fits (a word, a link, stays whole), else hard at the limit."""
    blank = max(piece.rfind(" ", 0, limit), piece.rfind("\t", 0, limit))
    if blank <= 0:
        return limit
    word = re.match(r"\S*", piece[blank + 1 :])
    # A word longer than a part is cut hard anyway: then the part is filled first.
    return blank + 1 if word is None or len(word.group()) <= limit else limit


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
        if current.strip():
            parts.append(current)
        current = ""
        if piece.startswith(FENCE) and len(piece) > limit:
            parts += _split_code_block(piece, limit)
            continue
        while len(piece) > limit:  # no sentence end inside: cut between words if any
            cut = _cut_at(piece, limit)
            parts.append(piece[:cut])
            piece = piece[cut:]
        current = piece
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]

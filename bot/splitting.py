"""Split a long reply into messages a platform accepts, at sentence boundaries.

Code blocks (```…```) stay whole when they fit; anything longer than the limit with no
boundary inside is cut hard as a last resort.
"""

from __future__ import annotations

import re

# A sentence ends after CJK or Latin end punctuation (with closing quotes) or a newline.
_SENTENCE_END = re.compile(r"(?<=[。！？!?…~～\.])[」』”\"')）]*\s*|\n+")
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
        while len(piece) > limit:  # no boundary inside: cut hard
            parts.append(piece[:limit])
            piece = piece[limit:]
        current = piece
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]

"""A character card inside a PNG image, as SillyTavern cards are mostly shared: the
card's JSON, base64, in a text chunk (`tEXt` as SillyTavern writes it; `zTXt` or `iTXt`
as other tools may). `ccv3` (Character Card V3) wins over the V2 copy `chara` beside it,
as the V3 spec says. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CARD_KEYWORDS = ("ccv3", "chara")


class PngCardError(ValueError):
    """Why the PNG holds no readable card: a sentence the card loader puts its path to."""


# The most a compressed text chunk may unpack to: far above any card, far below a bomb.
_MAX_PNG_TEXT = 32 * 1024 * 1024


def png_card(raw: bytes) -> Any:
    """The card in a PNG image: the JSON, base64, of its `ccv3` or `chara` text chunk
    (tEXt as SillyTavern writes it; zTXt or iTXt as other tools may)."""
    found: dict[str, bytes] = {}
    pos, whole = len(PNG_SIGNATURE), False
    while pos + 12 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[pos : pos + 8])
        end = pos + 12 + length
        if end > len(raw) or kind == b"IEND":
            whole = kind == b"IEND"
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            body = raw[pos + 8 : end - 4]
            keyword, _, rest = body.partition(b"\0")
            name = keyword.decode("latin-1").lower()
            if name in _PNG_CARD_KEYWORDS:
                if zlib.crc32(kind + body) != struct.unpack(">I", raw[end - 4 : end])[0]:
                    raise PngCardError(
                        f'the "{name}" chunk of this PNG card is damaged (its checksum does '
                        "not match)."
                    )
                found.setdefault(name, _png_text(kind, rest, name))
        pos = end
    for name in _PNG_CARD_KEYWORDS:
        if name in found:
            try:
                return json.loads(base64.b64decode(found[name]).decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
                raise PngCardError(
                    f'the "{name}" chunk of this PNG card is not base64-encoded card JSON.'
                ) from None
    if not whole:  # a download cut short, say: the card may be in the part that is missing
        raise PngCardError("this PNG card is cut short (it ends before its last chunk).")
    raise PngCardError(
        'this PNG image holds no character card (no "chara" or "ccv3" text chunk): '
        "export the card again from SillyTavern, as PNG or JSON."
    )


def _png_text(kind: bytes, rest: bytes, name: str) -> bytes:
    """A text chunk's value after its keyword: as written (tEXt), or inflated (zTXt, or
    an iTXt whose compression flag is set)."""
    try:
        if kind == b"tEXt":
            return rest
        if kind == b"zTXt":
            return _inflate(rest[1:])
        compressed, text = rest[0], rest[2:].split(b"\0", 2)[2]  # language, translated key
        return _inflate(text) if compressed else text
    except (IndexError, zlib.error):
        raise PngCardError(f'the "{name}" chunk of this PNG card is damaged.') from None


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(data, _MAX_PNG_TEXT)
    if inflater.unconsumed_tail:
        raise zlib.error("too large")
    return text

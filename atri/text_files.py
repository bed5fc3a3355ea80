"""Reading the text files people write by hand (config.toml, character cards, background
facts, eval probes). They are meant to be UTF-8, but Windows editors also save "Unicode"
(UTF-16 with a byte-order mark, which says what it is, so it is read) and "ANSI" (GBK,
Shift-JIS…: a guess could misread names, so it is refused, saying where and how to fix)."""

from __future__ import annotations

import codecs
from pathlib import Path


class NotUtf8Error(ValueError):
    """The file is in another encoding; str() is a sentence without the file's name."""

    def __init__(self, line: int, utf16: bool = False) -> None:
        what = (
            "is UTF-16 without its byte-order mark, not UTF-8 text"
            if utf16
            else f"line {line} is not UTF-8 text (the file was saved in another encoding)"
        )
        super().__init__(f"{what}; save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)")
        self.line = line


def decode_hand_written(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")  # the BOM is consumed
    if (nul := raw.find(b"\0")) >= 0:
        # UTF-16 without its mark: a NUL beside each ASCII letter (first, as its non-ASCII
        # text fails as UTF-8 on some later line, which that line was blamed for).
        raise NotUtf8Error(raw[:nul].count(b"\n") + 1, utf16=raw.count(b"\0") * 4 > len(raw))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(raw[: exc.start].count(b"\n") + 1) from None


def read_hand_written(path: Path) -> str:
    """The file's text; OSError or NotUtf8Error for the caller to put in its sentence."""
    return decode_hand_written(Path(path).read_bytes())


# Codecs Python finds by name that turn bytes into text, yet no script is written in:
# they fail on any non-ASCII byte (punycode, idna), on every byte (undefined), or read
# backslashes as escapes (KiriKiri's and Ren'Py's lines are full of them).
_NOT_SCRIPT_CODECS = frozenset(
    {"undefined", "punycode", "idna", "unicode-escape", "raw-unicode-escape"}
)


def script_encoding_problem(name: str) -> str | None:
    """Why `name` cannot be the encoding of a game script ([dataprep] encoding), as the
    end of a sentence; None when it can. `codecs.lookup` alone also finds rot13, hex,
    base64 and zlib, which are bytes-to-bytes or text-to-text and fail at the first file."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return f'"{name}" is not an encoding Python knows'
    canonical = info.name.replace("_", "-")
    if not getattr(info, "_is_text_encoding", True) or canonical in _NOT_SCRIPT_CODECS:
        return f'"{name}" is not a text encoding scripts are saved in'
    return None

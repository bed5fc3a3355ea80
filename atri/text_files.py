"""Reading the text files people write by hand (config.toml, character cards, background
facts, eval probes). They are meant to be UTF-8, but Windows editors also save "Unicode"
(UTF-16 with a byte-order mark, which says what it is, so it is read) and "ANSI" (GBK,
Shift-JIS…: a guess could misread names, so it is refused, saying where and how to fix).
Old Mac line ends (a lone CR), which TOML refuses as a stray character, are line breaks."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

# A CR not followed by LF: a line end of classic Mac OS (and of some editors' exports).
_LONE_CR = re.compile(r"\r(?!\n)")
_LONE_CR_BYTES = re.compile(rb"\r(?!\n)")


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
        return _line_ends_known(raw.decode("utf-16"))  # the BOM is consumed
    if (nul := raw.find(b"\0")) >= 0:
        # UTF-16 without its mark: a NUL beside each ASCII letter (first, as its non-ASCII
        # text fails as UTF-8 on some later line, which that line was blamed for).
        raise NotUtf8Error(_line_at(raw, nul), utf16=raw.count(b"\0") * 4 > len(raw))
    try:
        return _line_ends_known(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(_line_at(raw, exc.start)) from None


def _line_ends_known(text: str) -> str:
    """`text` with each lone CR a LF (CRLF and LF are read as they are)."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def _line_at(raw: bytes, offset: int) -> int:
    """The line `offset` is on, counting lone CRs as line ends too."""
    head = raw[:offset]
    return head.count(b"\n") + len(_LONE_CR_BYTES.findall(head)) + 1


# A UTF-16 half (U+D800–U+DFFF) on its own. JSON may escape one ("\\ud83d": half of an
# emoji, which JavaScript tools write when they cut a string inside one), and json.loads
# keeps it; no UTF-8 file, terminal or database can hold it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# What a lone surrogate is, for a sentence that names where one was.
BROKEN_CHARACTER = "a broken character (a lone surrogate: half of an emoji, cut off)"


def without_lone_surrogates(value: Any, replacement: str = "\ufffd") -> tuple[Any, list[str]]:
    """Parsed JSON with each lone surrogate in its strings (object keys too) replaced by
    U+FFFD, as an invalid byte is, or by `replacement`; and where each string that held
    one is, as a path (`data.character_book.entries[0].content`). Lists and objects are
    mended in place."""
    found: list[str] = []

    def mended(text: str, path: str) -> str:
        if not LONE_SURROGATE.search(text):
            return text
        found.append(path or "the value")
        return LONE_SURROGATE.sub(replacement, text)

    if isinstance(value, str):
        return mended(value, ""), found
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        children: list[tuple[Any, str]] = []
        if isinstance(node, dict):
            entries = list(node.items())
            node.clear()  # put back in the same order, under mended names
            for key, item in entries:
                name = LONE_SURROGATE.sub(replacement, key) if isinstance(key, str) else key
                where = f"{path}.{name}" if path else str(name)
                if name != key:
                    found.append(f"{where} (its name)")
                node[name] = mended(item, where) if isinstance(item, str) else item
                children.append((item, where))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                node[i] = mended(item, f"{path}[{i}]") if isinstance(item, str) else item
                children.append((item, f"{path}[{i}]"))
        stack.extend(reversed(children))  # in the file's order
    return value, found


def read_hand_written(path: Path) -> str:
    """The file's text; OSError or NotUtf8Error for the caller to put in its sentence."""
    return decode_hand_written(Path(path).read_bytes())


# Codecs Python finds by name that turn bytes into text, yet no script is written in:
# they fail on any non-ASCII byte (punycode, idna), on every byte (undefined), or read
# backslashes as escapes (KiriKiri's and Ren'Py's lines are full of them).
_NOT_SCRIPT_CODECS = frozenset(
    {"undefined", "punycode", "idna", "unicode-escape", "raw-unicode-escape"}
)


# What Notepad's "Save as" encoding names are to Python.
_NOTEPAD_NAMES = {
    "ansi": " (Notepad's ANSI is the Windows code page: gbk on Chinese Windows, cp932 on "
    "Japanese, cp1252 on Western)",
    "unicode": ' (Notepad\'s "Unicode" is utf-16)',
}


def script_encoding_problem(name: str) -> str | None:
    """Why `name` cannot be the encoding of a game script ([dataprep] encoding), as the
    end of a sentence; None when it can. `codecs.lookup` alone also finds rot13, hex,
    base64 and zlib, which are bytes-to-bytes or text-to-text and fail at the first file."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return f'"{name}" is not an encoding Python knows' + _NOTEPAD_NAMES.get(
            name.strip().lower(), ""
        )
    canonical = info.name.replace("_", "-")
    if not getattr(info, "_is_text_encoding", True) or canonical in _NOT_SCRIPT_CODECS:
        return f'"{name}" is not a text encoding scripts are saved in'
    return None


def json_object(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (a model folder's config.json, tokenizer_config.json…);
    `{}` where it cannot be read or is not an object: those files only inform a check or
    a default, and a missing or odd one leaves it to the library that loads the model."""
    import json

    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}

"""Find the script files a user named and read each one into text."""

from __future__ import annotations

import codecs
import dataclasses
import os
import sys
import zipfile
import zlib
from array import array
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from dataprep.encoding import Decoded, decode_report
from dataprep.errors import DataprepError
from dataprep.formats.common import join_pieces
from dataprep.formats.onscripter import is_script_name
from dataprep.formats.rpgmaker import is_database_file

if TYPE_CHECKING:
    from docx.table import _Cell

# Extensions picked up when a folder is given; a file named directly is read whatever
# its extension (voice lists come as .list, .txt, .csv …). A .csv or .tsv is a
# spreadsheet's table of the lines (formats/table.py), or a voice list.
SCRIPT_SUFFIXES = frozenset(
    {
        ".txt",
        ".ks",
        ".bkscr",
        ".rpy",
        ".docx",
        ".list",
        ".csv",
        ".tsv",
        ".scn",
        ".lab",
        ".json",
        ".nani",
        ".ast",  # Artemis engine scripts
        ".ccs",  # Cross Channel's bilingual dumps (`>0○0001○原文`)
        # Subtitles (SubRip, WebVTT), read as a plain dump: a fan's may name each speaker
        # (`Atri: …`); one that names none is said to be subtitles (no_dialogue.py).
        ".srt",
        ".vtt",
    }
)


_UNPACK = "unpack it and give the script files inside."
_DECOMPILE = (
    "give the game's text .ks scenario files instead, or turn it back into text first with a"
    " tool that decompiles .scn files (FreeMote's PsbDecompile does it)."
)
_NOT_TEXT = "give the game's script files (.txt, .ks, .rpy …) instead."
# Files that are certainly not text (no text starts with these bytes), so that the user
# hears what the file is instead of advice about encodings.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "a gzip archive", _UNPACK),
    (b"PK\x03\x04", "a zip archive", _UNPACK),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UNPACK),
    (b"Rar!\x1a\x07", "a RAR archive", _UNPACK),
    (
        b"XP3\r\n \n\x1a\x8bg\x01",
        "a KiriKiri XP3 archive",
        "extract its scenario .ks files first (GARbro or KrkrExtract do it).",
    ),
    # KiriKiri Z's compiled scenarios (`01.ks.scn`): binary PSB, or PSB packed with zlib.
    (b"PSB\x00", "a KiriKiri Z compiled scene (PSB)", _DECOMPILE),
    (b"mdf\x00", "a KiriKiri Z compiled scene (zlib-packed PSB)", _DECOMPILE),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _NOT_TEXT),
    (b"\xff\xd8\xff", "a JPEG image", _NOT_TEXT),
    (b"OggS", "an Ogg audio file", _NOT_TEXT),
    (b"%PDF-", "a PDF document", "copy its text into a .txt file first."),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Word (.doc) document",
        "save it as .docx or .txt.",
    ),
)


def collect_scripts(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively, sorted, hidden entries skipped); keep files as given.
    A folder inside that cannot be listed is kept too, after the files, so that reading
    it says why (`read_script`): `Path.rglob` passed over it without a word, and half a
    game's chapters were missing from the dataset."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            unreadable: list[Path] = []
            found.extend(
                p
                for p in sorted(_files_below(path, unreadable))
                if p.is_file()
                # ONScripter's `nscript.dat` / `nscript.___` is its script, whatever its suffix.
                and (p.suffix.lower() in SCRIPT_SUFFIXES or is_script_name(p.name))
                # RPG Maker's Actors.json, System.json …: data beside the events, no script.
                and not is_database_file(p)
            )
            found.extend(sorted(unreadable))
        else:
            found.append(path)
    return found


def _files_below(folder: Path, unreadable: list[Path]) -> list[Path]:
    """The files in `folder` and below, hidden ones and those in hidden folders left out,
    links to folders not followed (as `Path.rglob`); folders that cannot be listed go to
    `unreadable`."""

    def note(exc: OSError) -> None:
        unreadable.append(Path(exc.filename))

    files: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=note):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(root, name) for name in names if not name.startswith(".")]
    return files


def read_script(path: Path, encoding: str = "auto") -> Decoded:
    """The text of a .txt-like or .docx file (an `nscript.dat` or a KiriKiri simple-crypt
    `.ks` decrypted); DataprepError if unreadable."""
    if path.suffix.lower() == ".docx":
        return Decoded(read_docx(path), "docx")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataprepError(f"{path}: file not found; expected a script file or folder.") from None
    except IsADirectoryError:
        raise DataprepError(f"{path}: is a folder with no script files in it.") from None
    except OSError as exc:
        raise DataprepError(f"{path}: cannot be read ({exc.strerror}).") from None
    data = _nscripter_text(path, data)
    if data.startswith(_SIMPLE_CRYPT) and data[3:5] == codecs.BOM_UTF16_LE:
        # Its bytes say what they are: UTF-16 whatever [dataprep] encoding says.
        return _unix_line_ends(decode_report(_kirikiri_text(path, data), str(path)))
    packed = _packed_kind(data)
    if packed is not None:
        kind, advice = packed
        raise DataprepError(f"{path}: is {kind}, not a script; {advice}")
    decoded = decode_report(data, str(path), encoding)
    # Looked for in the bytes: a CR byte is found at memory speed (1 ms in 20 MB), a "\r"
    # in a text of Chinese far slower; no encoding writes a "\r" without one.
    decoded = _unix_line_ends(decoded) if b"\r" in data else decoded
    # A JSON string may hold a U+2028 as it is, where a line break breaks the JSON.
    return decoded if path.suffix.lower() == ".json" else _other_line_breaks(decoded)


# NScripter's `nscript.dat` is its script with every byte XOR 0x84; `nscript.___` is that
# and then a key table from the game's .exe, which only a decrypter given the .exe undoes.
_XOR_84 = bytes(b ^ 0x84 for b in range(256))
_SCRIPT_HEAD = (b"*", b";", b"\xef\xbb\xbf")


def _nscripter_text(path: Path, data: bytes) -> bytes:
    """The bytes of a script, `nscript.dat` decrypted; DataprepError for an `nscript.___`
    still encrypted (an ONScripter script starts with a `;` comment or a `*` label)."""
    name = path.name.lower()
    if name == "nscript.dat":
        return data.translate(_XOR_84)
    if name == "nscript.___" and not data.lstrip().startswith(_SCRIPT_HEAD):
        raise DataprepError(
            f"{path}: is NScripter's encrypted script (nscript.___, keyed by the game's .exe);"
            " decrypt it to text with an NScripter script decrypter and give that file."
        )
    return data


# KiriKiri's "simple crypt" text files (`FE FE <mode> FF FE`, then the text): how the
# engine reads them back, as TVP2's TextStream.cpp does (tTVPTextReadStream; seen in
# zeas2/Kirikiroid2, src/core/base/TextStream.cpp): mode 0 and 1 turn each UTF-16LE unit
# with the formulas below; mode 2 is two 8-byte little-endian sizes (compressed, then
# uncompressed) and the UTF-16LE text packed with zlib.
_SIMPLE_CRYPT = b"\xfe\xfe"
_MODE2_HEAD = 5 + 16


def _kirikiri_text(path: Path, data: bytes) -> bytes:
    """A simple-crypt `.ks` (`data`, its signature checked) as UTF-16LE with its BOM;
    DataprepError for a mode the engine does not have or packed data that is damaged."""
    mode, body = data[2], data[5:]
    if mode == 2:
        try:
            plain = zlib.decompress(data[_MODE2_HEAD:])
        except zlib.error:
            raise DataprepError(
                f"{path}: is KiriKiri's zlib-packed text (FE FE 02), but its packed data is"
                " damaged; extract the file from the game again."
            ) from None
    elif mode == 0:
        plain = _mapped_units(body, _mode0_table())
    elif mode == 1:
        # The swap of each bit pair stays inside each byte, so a byte table does it.
        plain = body.translate(_MODE1_BYTES)
    else:
        raise DataprepError(
            f"{path}: is KiriKiri's encrypted text in a mode it does not have ({mode}, where"
            " 0, 1 or 2 are known); give the file as the game's extractor saved it."
        )
    return codecs.BOM_UTF16_LE + plain


# Mode 1: ((c & 0xaaaa) >> 1) | ((c & 0x5555) << 1), each bit pair swapped.
_MODE1_BYTES = bytes(((b & 0xAA) >> 1) | ((b & 0x55) << 1) for b in range(256))


@cache
def _mode0_table() -> list[int]:
    """Mode 0 for every UTF-16 unit: c ^ (((c & 0xfe) << 8) ^ 1), units below 0x20 (line
    ends, tabs) as they are. Made once (a few ms), then a lookup per unit."""
    return [c ^ (((c & 0xFE) << 8) ^ 1) if c >= 0x20 else c for c in range(0x10000)]


def _mapped_units(body: bytes, table: list[int]) -> bytes:
    """The UTF-16LE units of `body` through `table` (an odd last byte dropped, as the
    engine reads whole units only)."""
    units = array("H", body[: len(body) - len(body) % 2])
    if sys.byteorder == "big":
        units.byteswap()
    mapped = array("H", map(table.__getitem__, units))
    if sys.byteorder == "big":
        mapped.byteswap()
    return mapped.tobytes()


def _unix_line_ends(decoded: Decoded) -> Decoded:
    """The text with Windows line ends (`\r\n`) and lone ones (`\r`, classic Mac OS and
    some Windows tools) as `\n`, the same lines: every format reads a line up to `\n`, and
    a `\r` left in it is part of what it reads (a Ren'Py `define town = "Harborside"\r`
    is then no string; a file of lone `\r` was one line, and gave no sample). The text is
    copied once (some 50 ms for 20 MB); looking for lone ones where none is left costs
    under 1 ms."""
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    return dataclasses.replace(decoded, text=text)


# Unicode's other line breaks: LINE SEPARATOR, PARAGRAPH SEPARATOR and NEL, as some
# export tools end lines with (Python's `splitlines` reads them so; no script format does).
_OTHER_LINE_BREAKS = str.maketrans(dict.fromkeys("\u2028\u2029\u0085", "\n"))


def _other_line_breaks(decoded: Decoded) -> Decoded:
    """The text with `_OTHER_LINE_BREAKS` as `\n` when they are its only line breaks (a
    trailing `\n` aside): a file of one line holds no script, so nothing else is lost. In a
    file with lines of its own they are left inside its lines, as written."""
    text = decoded.text
    first = text.find("\n")
    if first != -1 and text.count("\n", first) != len(text) - first:
        return decoded  # a line break before the last characters: lines of its own
    if not any(c in text for c in "\u2028\u2029\u0085"):
        return decoded
    return dataclasses.replace(decoded, text=text.translate(_OTHER_LINE_BREAKS))


def _packed_kind(data: bytes) -> tuple[str, str] | None:
    """What a file that starts with a binary format's signature is, and what to do."""
    for magic, kind, advice in _SIGNATURES:
        if data.startswith(magic):
            return kind, advice
    return None


def read_docx(path: Path) -> str:
    """Paragraphs one per line; a table row becomes `cell<TAB>cell` (name | line tables)."""
    import docx  # python-docx; imported here so plain-text runs do not pay for it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise DataprepError(
            f"{path}: is not a readable Word document; expected a .docx saved by Word or"
            " LibreOffice."
        ) from None
    # Walk the body in order, so a table between two paragraphs stays between them.
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            lines += (_row_line(row.cells) for row in block.rows)
    return "\n".join(lines)


def _row_line(cells: Sequence[_Cell]) -> str:
    """A table row as one line, `name<TAB>line`: a cell's paragraphs and line breaks are
    one piece of text (a long line typed over two paragraphs in its cell), and a cell
    merged over several columns, which python-docx gives once for each column (the same
    object), is read once: a heading row across the table is a heading, not a speaker
    saying it. (A name cell merged down over rows names each row's line, as written.)"""
    texts: list[str] = []
    last: _Cell | None = None
    for cell in cells:
        if cell is not last:
            texts.append(join_pieces(cell.text.replace("\t", " ").split("\n")))
        last = cell
    return "\t".join(texts)

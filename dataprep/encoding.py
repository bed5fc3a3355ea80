"""Read a script's bytes into text without guessing wrong.

A forced encoding ([dataprep] encoding) is used as given, except for a file whose bytes
say they are Unicode (`_unicode_despite`), or are UTF-8 where UTF-16 or UTF-32 is forced
(`_utf8_despite_wide`), or hold characters only the Windows superset of a forced
"Shift-JIS", "GB2312", "GBK" or "EUC-KR" reads (`_widened`); a file a forced CJK
encoding garbles while a guess reads it plausibly is refused, naming that guess
(`_refuse_if_garbled`).
Otherwise, in order, from most to least certain: a byte-order mark; UTF-8 (a few stray
bytes allowed); Windows-1252 when its high bytes read as accents and curly quotes inside
Western prose; UTF-16 without a BOM when the NUL bytes say so; Korean (EUC-KR/CP949)
when it reads as Hangul spaced into words, as Korean is written; then GB18030, Shift-JIS
and EUC-JP, kept only if the decoded text is plausible (mostly common characters of that
language: kana are not Chinese), with as few stray bytes as UTF-8 may have; GB18030
again with kana allowed (Japanese saved as GBK); charset-normalizer, for anything else
(Big5, EUC-KR, cp1252 …; a Korean guess only spaced like Korean); Big5 when mostly its
frequent hanzi; last, UTF-8 again with whatever it cannot read replaced. Bytes
that no choice can read become U+FFFD and are counted, so one bad byte costs one
character, not the file; a file is refused only when most of it cannot be read, and
then the legacy encoding it nearly was is named. A line ends at "\r\n", "\n" or a lone
"\r" (Python's universal newlines), wherever lines are counted or split here.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from atri.text_files import script_encoding_problem
from dataprep.errors import DataprepError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Plausibility is judged on a prefix: enough text to be sure, cheap on a 20 MB file.
SAMPLE_BYTES = 64 * 1024
# Share of non-ASCII characters that must be common ones for a legacy decode to count.
MIN_PLAUSIBLE = 0.85
# UTF-8 with at most this share of its non-ASCII bytes unreadable is UTF-8 with a few
# stray bytes: in GBK, Shift-JIS or Latin-1 text most non-ASCII bytes are invalid UTF-8.
# A guessed legacy encoding is allowed as many (`_decode_plausible`).
MAX_STRAY_UTF8 = 0.1
# A forced encoding's text is judged on this many characters: mojibake shows in a few
# thousand, and every file read in a forced encoding pays for it.
FORCED_SAMPLE_CHARS = 8 * 1024
# More than this share of unreadable bytes: the file is not text in that encoding.
MAX_REPLACED = 0.5
# Big files are decoded a slice at a time: decoding 20 MB of Chinese at once makes CPython
# build the text in a buffer sized for the worst case, three times the text's own size.
DECODE_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Decoded:
    """A file's text, the encoding it was read with, and what could not be read."""

    text: str
    encoding: str
    replaced_bytes: int = 0
    first_replaced_line: int = 0  # 1-based; 0 when nothing was replaced
    # The encoding was inferred from the bytes' statistics (no BOM, not UTF-8, not chosen
    # in the config): the run names it, so that a wrong guess is seen.
    guessed: bool = False
    # The encoding the config chose, which this file's bytes overrode (`_unicode_despite`):
    # the run names it too. None when the file was read as the config says.
    instead_of: str | None = None
    # A file joined from two encodings (`_mixed_lines`): the legacy one its lines that are
    # not UTF-8 were read in, and how many they are.
    other_encoding: str | None = None
    other_lines: int = 0
    # The legacy encoding the config named ("Shift-JIS", "GB2312"), which could not read
    # `forced_unreadable` bytes that its Windows superset (`encoding`) read (`_widened`).
    superset_of: str | None = None
    forced_unreadable: int = 0


def decode_bytes(data: bytes, source: str, encoding: str = "auto") -> tuple[str, str]:
    """Return (text, encoding name); raise DataprepError naming `source` if impossible."""
    decoded = decode_report(data, source, encoding)
    return decoded.text, decoded.encoding


def decode_report(data: bytes, source: str, encoding: str = "auto") -> Decoded:
    """Decode `data`, replacing unreadable bytes; DataprepError if most of it is unreadable."""
    if encoding != "auto":
        if problem := script_encoding_problem(encoding):
            raise DataprepError(
                f'{source}: [dataprep] encoding {problem}; set it to "auto" or a name like'
                ' "gb18030".'
            )
        forced = codecs.lookup(encoding).name
        if not forced.startswith("utf"):
            unicode = _unicode_despite(data, encoding)
        elif forced.startswith(_WIDE_UNICODE):
            unicode = _utf8_despite_wide(data, encoding)
        else:
            unicode = None
        if unicode is not None:
            return unicode
        decoded = _widened(data, _decode_replacing(data, encoding), encoding)
        if decoded.replaced_bytes > MAX_REPLACED * len(data) or _mostly_replaced(decoded.text):
            raise DataprepError(
                f"{source}: is not valid {encoding} text ({decoded.replaced_bytes} of"
                f' {len(data)} bytes unreadable); fix [dataprep] encoding or set it to "auto".'
            )
        _refuse_if_garbled(data, decoded.text, codecs.lookup(decoded.encoding).name, source)
        return dataclasses.replace(decoded, text=_strip_bom(decoded.text))
    for bom, name in BOMS:
        if data.startswith(bom):
            decoded = _decode_replacing(data[len(bom) :], name)
            if decoded.replaced_bytes and name == "utf-8":
                # Its line 1 holds the BOM, as its bytes' line 1 does.
                decoded = _mixed_lines(data, "\ufeff" + decoded.text) or decoded
            if decoded.replaced_bytes <= MAX_STRAY_UTF8 * len(data):
                return decoded
            break
    utf8 = _decode_replacing(data, "utf-8")
    if not utf8.replaced_bytes:
        return utf8
    # Before the stray bytes are allowed: a few lines appended in CP932 are few bytes.
    mixed = _mixed_lines(data, utf8.text)
    if mixed is not None:
        return mixed
    if utf8.replaced_bytes <= MAX_STRAY_UTF8 * _non_ascii(data):
        return utf8
    western = _western(data)
    if western is not None:
        return Decoded(western, "cp1252", guessed=True)
    legacy = _legacy(data)
    if legacy is not None:
        return legacy
    found = _charset_normalizer_guess(data)
    if found is not None:
        return Decoded(*found, guessed=True)
    # Big5 that charset-normalizer passed over (it finds nothing in a short or repetitive
    # file): its characters are then mostly Big5's frequent hanzi, which nothing else gives.
    big5 = _decode_plausible(data, "big5")
    if big5 is not None:
        return big5
    controls = len(utf8.text) - len(utf8.text.translate(_CONTROLS))
    if utf8.replaced_bytes + controls <= MAX_REPLACED * len(data) and not _mostly_replaced(
        utf8.text
    ):
        return utf8
    raise DataprepError(
        f"{source}: is not text in any encoding tried ({utf8.replaced_bytes + controls} of"
        f" {len(data)} bytes unreadable as UTF-8 or control characters{_nearest_legacy(data)});"
        " save it as UTF-8 or set [dataprep] encoding."
    )


def _legacy(data: bytes, tried: str = "") -> Decoded | None:
    """`data` read in the first legacy encoding (`_candidates`) it is plausible text of,
    leaving out `tried` (a codec's canonical name)."""
    for name in _candidates(data):
        decoded = _decode_plausible(data, name) if name != tried else None
        if decoded is not None:
            return decoded
    # Japanese saved as GBK (Chinese tools do that): no Japanese codec reads it, and its
    # kana, which are not Chinese, made it implausible as GB18030 above.
    return _decode_plausible(data, "gb18030", _GB_WITH_KANA) if tried != "gb18030" else None


# The Windows codecs that read all a legacy codec reads and more, by the legacy one's
# canonical name: users write "Shift-JIS" or "GB2312", while Notepad and games write
# CP932 (NEC and IBM characters: ①, 髙) and GBK/GB18030 (亞, 喆), which those turned into �.
_SUPERSETS = {"shift_jis": "cp932", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}


def _widened(data: bytes, decoded: Decoded, forced: str) -> Decoded:
    """`decoded` (`data` read in the `forced` encoding, as the config writes it), or
    `data` read in that encoding's Windows superset when the forced one left bytes
    unreadable and the superset reads every one."""
    wider = _SUPERSETS.get(codecs.lookup(forced).name) if decoded.replaced_bytes else None
    if wider is None:
        return decoded
    try:
        text = _decode_strict(data, wider)
    except UnicodeDecodeError:
        return decoded
    return Decoded(text, wider, superset_of=forced, forced_unreadable=decoded.replaced_bytes)


def _refuse_if_garbled(data: bytes, text: str, forced: str, source: str) -> None:
    """Raise DataprepError when `text`, `data` read in the `forced` encoding (a canonical
    codec name), is implausible while the guess reads `data` plausibly in another:
    gb18030 on a Shift-JIS script gave samples of mojibake, and no word of it. Refused,
    not read in the other: a wrong forced encoding is the config's to fix, and garbled
    lines must not be trained on."""
    rules = _FORCED_RULES.get(forced)
    if rules is None:
        return
    head = text[:FORCED_SAMPLE_CHARS]
    if rules == "cp949" and _spaced_like_korean(head):
        return  # Korean, however many Hanja it writes
    score = plausibility(head, rules)
    if score >= MIN_PLAUSIBLE:
        return
    other = "cp1252" if _western(data) is not None else None
    if other is None and (legacy := _legacy(data, tried=forced)) is not None:
        other = legacy.encoding
    if other is not None:
        raise DataprepError(
            f"{source}: read as {forced} ([dataprep] encoding), but it reads as {other}: as"
            f" {forced} only {score:.0%} of its characters are common ones, garbled text;"
            f' set [dataprep] encoding to "{other}", or to "auto" if the files differ.'
        )


def _mixed_lines(data: bytes, utf8_text: str) -> Decoded | None:
    """A file joined from two encodings (a fan's UTF-8 lines appended to a game's CP932
    script, chapters dumped by two tools): its UTF-8 lines as UTF-8 (`utf8_text` is the
    file read as UTF-8, with U+FFFD for what is not), the others in the one encoding
    that reads them all plausibly, with no byte unreadable. Read whole as UTF-8, such a
    file lost every line of the other encoding; read whole as CP932, its UTF-8 lines
    became kanji nonsense (UTF-8's bytes are mostly valid CP932). One or two lines of
    either are enough; UTF-8 lines that are few (`_few_utf8_lines`) must also be
    nonsense in the other encoding, as they are when they are UTF-8: legacy CJK text
    almost never is valid UTF-8, but a short line now and then is. None when no
    encoding reads the rest, or when the UTF-8 lines read as well in it."""
    texts = _lines(utf8_text)  # one per line of `data`: no CR or LF byte is ever replaced
    others = [i for i, line in enumerate(texts) if "\ufffd" in line]
    utf8_rows = [i for i, line in enumerate(texts) if "\ufffd" not in line and not line.isascii()]
    if not others or not utf8_rows:
        return None
    lines = _byte_lines(data)
    rest = b"\n".join(lines[i] for i in others)
    # No UTF-16 here: its lines are not split at a 0x0A byte. In the others, 0x0A is never
    # part of a character, so the decoded rest splits back into the same lines.
    for name, text in _clean_readings(rest):
        parts = text.split("\n")
        if len(parts) != len(others):
            continue
        if _few_utf8_lines(len(utf8_rows), len(others)) and _reads_as(
            b"\n".join(lines[i] for i in utf8_rows), name
        ):
            return None  # legacy text that happens to be valid UTF-8: one encoding
        for i, part in zip(others, parts, strict=True):
            texts[i] = part
        return Decoded(
            _strip_bom("\n".join(texts)), "utf-8", other_encoding=name, other_lines=len(others)
        )
    return None


def _clean_readings(rest: bytes) -> Iterator[tuple[str, str]]:
    """(encoding, text) of each reading of `rest` that is plausible with no byte
    unreadable (a U+FFFD there would be counted nowhere): Windows-1252 when it reads as
    Western prose (CP932 made "Let’s" "Let痴"), then the legacy CJK encodings."""
    western = _western(rest)
    if western is not None:
        yield "cp1252", western
    for name in _candidates(rest):
        if name.startswith("utf-16"):
            continue
        decoded = _decode_plausible(rest, name)
        if decoded is not None and not decoded.replaced_bytes:
            yield name, decoded.text


# Lines of a file joined from two encodings: with at least this many non-ASCII lines of
# UTF-8, and one for every MIXED_SHARE lines that are not, the UTF-8 lines are taken as
# such; fewer must show they are no legacy text (`_mixed_lines`).
MIN_MIXED_LINES = 3
MIXED_SHARE = 50


def _few_utf8_lines(utf8_lines: int, others: int) -> bool:
    return utf8_lines < MIN_MIXED_LINES or utf8_lines * MIXED_SHARE < others


def _reads_as(data: bytes, name: str) -> bool:
    """Whether `data` is plausible text in the legacy encoding `name`."""
    return _decode_plausible(data, name) is not None


# Where a line ends: "\r\n", "\n", or a lone "\r" (classic Mac OS, and some Windows tools).
_LINE_BREAK = re.compile("\r\n?|\n")
_LINE_BREAK_BYTES = re.compile(b"\r\n?|\n")
_LINE_END = re.compile("[\r\n]")


def _lines(text: str) -> list[str]:
    """The text's lines, without their line ends."""
    return _LINE_BREAK.split(text) if "\r" in text else text.split("\n")


def _byte_lines(data: bytes) -> list[bytes]:
    """The lines of `data` in an ASCII-compatible encoding, without their line ends (a
    CR or LF byte is never part of a character there)."""
    return _LINE_BREAK_BYTES.split(data) if b"\r" in data else data.split(b"\n")


def _line_breaks(data: bytes, end: int) -> int:
    """How many line ends `data` holds before `end`."""
    lfs = data.count(b"\n", 0, end)
    crs = data.count(b"\r", 0, end)
    return lfs + crs - data.count(b"\r\n", 0, end) if crs else lfs


def _mostly_replaced(text: str) -> bool:
    """Whether most of the text's non-blank lines carry bytes that could not be read: the
    file is not text in that encoding, however few bytes that is (one per character of a
    line of CJK text read as UTF-8 is half of its bytes or fewer)."""
    if "\ufffd" not in text:
        return False
    lines = _lines(text)
    blank = sum(not line.strip() for line in lines)
    return replaced_lines(text) * 2 > len(lines) - blank


def replaced_lines(text: str) -> int:
    """How many of the text's lines hold a U+FFFD (a line each, however many), found
    without splitting a big text whose replacements are few."""
    line_end = _LINE_END.search if "\r" in text else None
    count, at = 0, text.find("\ufffd")
    while at >= 0:
        count += 1
        if line_end is None:
            end = text.find("\n", at)
        else:
            found = line_end(text, at)
            end = found.start() if found else -1
        if end < 0:
            break
        at = text.find("\ufffd", end)
    return count


def _unicode_despite(data: bytes, forced: str) -> Decoded | None:
    """`data` read as the Unicode its bytes show, though the config forces the legacy
    encoding `forced`: a byte-order mark with the rest readable after it, or non-ASCII text
    that decodes as UTF-8 without one error. A folder mixes both (a game's scripts in
    CP932, a fan translation beside them saved as UTF-8), and CP932 made mojibake of the
    UTF-8 ones; legacy CJK text is almost never valid UTF-8, so this misreads none."""
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return Decoded(_decode_strict(data[len(bom) :], name), name, instead_of=forced)
            except UnicodeDecodeError:
                return None
    if data.isascii():
        return None  # reads the same either way
    try:
        return Decoded(_decode_strict(data, "utf-8"), "utf-8", instead_of=forced)
    except UnicodeDecodeError:
        return None


# The codecs whose text has a NUL byte for every ASCII character (canonical names).
_WIDE_UNICODE = ("utf-16", "utf-32")


def _utf8_despite_wide(data: bytes, forced: str) -> Decoded | None:
    """`data` read as UTF-8, though the config forces the UTF-16 or UTF-32 `forced`: bytes
    without a NUL and without a UTF-16 byte-order mark that are valid UTF-8. UTF-16 or
    UTF-32 text has a NUL in every ASCII character (a newline too), so none is misread;
    read as UTF-16, such a file was garbage, said only as "no dialogue found"."""
    if b"\0" in data or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    try:
        return Decoded(_decode_strict(body, "utf-8"), "utf-8", instead_of=forced)
    except UnicodeDecodeError:
        return None


def _non_ascii(data: bytes) -> int:
    return len(data.translate(None, _ASCII_BYTES))


_ASCII_BYTES = bytes(range(128))
# Control characters (not tab, newline, form feed, carriage return) mean binary data.
_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\f\r")


def _decode_replacing(data: bytes, encoding: str) -> Decoded:
    """Strict decode when it works (the common case, and fast); else one pass that
    replaces each unreadable run with U+FFFD and counts its bytes."""
    try:
        return Decoded(_decode_strict(data, encoding), encoding)
    except UnicodeDecodeError as first:
        start = first.start
    if codecs.lookup(encoding).name == "utf-8":
        # Counted from the lengths, not by a handler called back for each unreadable run:
        # a GBK script read as UTF-8 (which `decode_report` tries first) has one every
        # character or two, and the handler took 5 s over 15 MB. Every byte UTF-8 reads
        # comes back from encoding the text again; each U+FFFD stands for bytes it could not
        # (a U+FFFD written in the file, its own 3 bytes, counts as unreadable too).
        text = data.decode(encoding, errors="replace")
        replaced = len(data) - len(text.encode(encoding)) + 3 * text.count("\ufffd")
    else:
        _replaced.count = 0
        text = codecs.decode(data, encoding, errors=_COUNTING)
        replaced = _replaced.count
    if encoding.replace("_", "-").lower().startswith("utf-16"):
        line = len(_lines(data[:start].decode(encoding, errors="replace")))
    else:
        line = _line_breaks(data, start) + 1
    return Decoded(text, encoding, replaced, line)


def _decode_strict(data: bytes, encoding: str) -> str:
    """`data.decode(encoding)`, a slice at a time when `data` is big (same text, less memory).

    On an error the whole is decoded again, so that the error's position is the file's.
    """
    if len(data) <= DECODE_CHUNK:
        return data.decode(encoding)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with memoryview(data) as view:
        try:
            parts = [
                decoder.decode(view[i : i + DECODE_CHUNK])
                for i in range(0, len(view), DECODE_CHUNK)
            ]
            parts.append(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            parts = []
    return "".join(parts) if parts else data.decode(encoding)


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    """Like the "replace" error handler, and adds the bytes it replaces to a counter."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _replaced.count += exc.end - exc.start
    return "\ufffd", exc.end


_replaced = threading.local()
_COUNTING = "dataprep-count-replaced"
codecs.register_error(_COUNTING, _count_and_replace)


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


# What Windows-1252 text holds besides ASCII and Latin letters: typographic quotes and
# dashes, the ellipsis, guillemets, and the signs Western prose uses.
_WESTERN_MARKS = frozenset("\u00a0‘’‚“”„–—…•·«»‹›¡¿°©®™€£¥§¶†‡′″×")
# Share of a Windows-1252 decode's non-ASCII characters that must be letters or marks,
# and of its runs of non-ASCII characters that must be short (an accent inside a word, as
# é in café or üß in Grüße; a CJK character is two bytes, and its text has long runs).
MIN_WESTERN_CHARACTERS = 0.98
MIN_WESTERN_SHORT_RUNS = 0.9
WESTERN_RUN = 2
# A CJK character in a double-byte encoding is a run of two; an accent usually stands
# alone (café, naïve, Let’s): at least this share of the runs must be single characters.
MIN_WESTERN_SINGLES = 0.5
# Accented capitals begin a few words (École, Über); bytes of CJK characters fall on
# Latin-1's capitals (0xC0-0xDE) as often as on its small letters.
MAX_WESTERN_CAPITALS = 0.3


def _western(data: bytes) -> str | None:
    """`data` read as Windows-1252 (Latin-1's superset: Notepad's "ANSI" on a Western
    Windows) when it reads as Western prose: an English or French script with "Let’s",
    "café" or "naïve". Tried before the CJK encodings, which read such a file's few high
    bytes as a plausible kanji ("Let’s" became "Let痴"), and charset-normalizer, which
    chose Central European code pages for English ("naïvely" became "naďvely").

    CJK text cannot pass: its characters are byte pairs, so its high bytes come in runs
    and many fall on Latin-1's symbols (¤ ± ³ ¼). Central European text in Windows-1250
    mostly fails too (Polish ą ł ż read as ¹ ³ ¿); Czech, whose letters Latin-1 also has
    (č ř ě as è ø ì), would be misread, and so needs [dataprep] encoding = "cp1250"."""
    head = data[:SAMPLE_BYTES]
    try:
        text = codecs.getincrementaldecoder("cp1252")(errors="strict").decode(head)
    except UnicodeDecodeError:
        return None
    if any(ch < " " and ch not in "\t\r\n" for ch in text):
        return None
    high = [ch for ch in text if ch >= "\x80"]
    if not high:
        return None
    small = sum(1 for ch in high if ch < "\u0250" and unicodedata.category(ch) == "Ll")
    capitals = sum(1 for ch in high if ch < "\u0250" and unicodedata.category(ch) == "Lu")
    western = small + capitals + sum(1 for ch in high if ch in _WESTERN_MARKS)
    if capitals > MAX_WESTERN_CAPITALS * (small + capitals):
        return None
    runs = [len(run) for run in _HIGH_RUNS.findall(text)]
    if western < MIN_WESTERN_CHARACTERS * len(high):
        return None
    if sum(1 for n in runs if n <= WESTERN_RUN) < MIN_WESTERN_SHORT_RUNS * len(runs):
        return None
    if sum(1 for n in runs if n == 1) < MIN_WESTERN_SINGLES * len(runs):
        return None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return None


_HIGH_RUNS = re.compile("[^\x00-\x7f]+")


def _candidates(data: bytes) -> list[str]:
    head = data[:SAMPLE_BYTES]
    # EUC-JP after GB18030: Chinese GB text that EUC-JP reads at all lands mostly on
    # JIS level 1 kanji, and Japanese EUC-JP text is no Chinese (its kana are not).
    # CP949 (EUC-KR's superset) first: its Hangul bytes are GB2312's level 1 hanzi rows,
    # so Korean read as GB18030 looks like common Chinese ("아토리" became "酒配府"). It is
    # kept only for Hangul with spaces between words, which Chinese and Japanese (whose
    # bytes CP949 also reads as Hangul) do not have.
    # CP932 (Windows' Shift-JIS, which KiriKiri games are written in), never Shift-JIS:
    # it reads NEC and IBM characters (髙, 﨑, ①) that Shift-JIS cannot, where the guess
    # below chose shift_jis_2004 and garbled them (髙 became 郄) without a word; and
    # where both read a byte pair they differ (0x8160 is ～ U+FF5E in CP932, 〜 U+301C in
    # Shift-JIS), so trying Shift-JIS first read one game's files with two tildes.
    names = ["cp949", "gb18030", "cp932", "euc_jp"]
    if len(head) >= 4 and len(head) % 2 == 0:
        # ASCII in UTF-16 leaves a NUL in every other byte: newlines and digits are enough.
        even_nuls = head[0::2].count(0)
        odd_nuls = head[1::2].count(0)
        if odd_nuls > 2 * even_nuls and odd_nuls:
            names.insert(0, "utf-16-le")
        elif even_nuls > 2 * odd_nuls and even_nuls:
            names.insert(0, "utf-16-be")
        else:
            names.extend(["utf-16-le", "utf-16-be"])
    return names


def _decode_plausible(data: bytes, name: str, judged_as: str | None = None) -> Decoded | None:
    """`data` decoded as `name` (a guess) when its head is plausible text of that encoding
    (judged by the rules of `judged_as`, when given), None otherwise. A few stray bytes,
    as many as UTF-8 is allowed (MAX_STRAY_UTF8), become U+FFFD and are counted: one bad
    byte in a GBK script made every encoding refuse the whole file."""
    head = data[:SAMPLE_BYTES]
    head_text, replaced = _head_decoded(head, name)
    if replaced > MAX_STRAY_UTF8 * _non_ascii(head):
        return None
    if plausibility(_without_replaced(head_text), judged_as or name) < MIN_PLAUSIBLE:
        return None
    if name == "cp949" and not _spaced_like_korean(head_text):
        return None
    decoded = _decode_replacing(data, name)
    if decoded.replaced_bytes > MAX_STRAY_UTF8 * _non_ascii(data) or _mostly_replaced(decoded.text):
        return None
    return dataclasses.replace(decoded, guessed=True)


def _head_decoded(head: bytes, name: str) -> tuple[str, int]:
    """`head` read as `name`, unreadable bytes as U+FFFD, and how many bytes those were;
    a multi-byte character cut by the sample's end is no error of the file."""
    _replaced.count = 0
    text = codecs.getincrementaldecoder(name)(errors=_COUNTING).decode(head, final=False)
    return text, _replaced.count


def _without_replaced(text: str) -> str:
    """The text without its U+FFFD: a stray byte says nothing of the encoding's language."""
    return text.replace("\ufffd", "") if "\ufffd" in text else text


# A legacy encoding whose head has this share of its characters common, its unreadable
# bytes counted as uncommon ones, is named when the file is refused: the one it nearly is.
# A wrong one scores far lower (Big5 read as EUC-JP: 0.29, most of its bytes unreadable).
NEAR_PLAUSIBLE = 0.6


def _nearest_legacy(data: bytes) -> str:
    """A clause naming the legacy encoding `data` came nearest to being read in, and why
    it was not; "" where none came near. Only called for a file about to be refused."""
    head = data[:SAMPLE_BYTES]
    best: tuple[float, str, str, str] | None = None  # (score, name, rules, head text)
    for name, rules in [*((n, n) for n in _candidates(data)), ("gb18030", _GB_WITH_KANA)]:
        text, _ = _head_decoded(head, name)
        if name == "cp949" and not _spaced_like_korean(text):
            continue
        score = plausibility(text, rules)
        if score >= NEAR_PLAUSIBLE and (best is None or score > best[0]):
            best = (score, name, rules, text)
    if best is None:
        return ""
    _, name, rules, text = best
    decoded = _decode_replacing(data, name)
    if decoded.replaced_bytes > MAX_STRAY_UTF8 * _non_ascii(data):
        return (
            f"; nearest {name}, which cannot read {decoded.replaced_bytes} of its"
            f" {_non_ascii(data)} non-ASCII bytes, at most {MAX_STRAY_UTF8:.0%} allowed"
        )
    readable = plausibility(_without_replaced(text), rules)
    if readable < MIN_PLAUSIBLE:
        return (
            f"; nearest {name}, whose text has {readable:.0%} common characters,"
            f" {MIN_PLAUSIBLE:.0%} needed"
        )
    lines = len(_lines(decoded.text)) - decoded.text.endswith(("\n", "\r"))
    return (
        f"; nearest {name}, which leaves unreadable bytes on {replaced_lines(decoded.text)} of"
        f" its {lines} lines"
    )


def plausibility(text: str, encoding: str) -> float:
    """Share of non-ASCII characters that are common in text of that encoding's language.

    Mis-decoded bytes land on rare ideographs, half-width katakana, Hangul or private
    use characters, so a correct decode scores near 1 and a wrong one far below.
    """
    total = common = 0
    # Counted first (in C), then judged once per character: a text has a few thousand.
    counts = Counter(text)
    for ch, n in counts.items():
        if ch < "\x80":
            if ch < " " and ch not in "\t\r\n":
                return 0.0
            continue
        total += n
        if _is_common(ch, encoding):
            common += n
    if total == 0:
        return 1.0
    if encoding in _JAPANESE_RULES and not _HALF_WIDTH_KANA.isdisjoint(counts):
        common += _half_width_words(text)
    return common / total


_JAPANESE_RULES = frozenset(("shift_jis", "cp932", "euc_jp"))
# Half-width katakana letters (ｦ to ﾝ, ｰ, and the voicing marks ﾞ ﾟ): a robot's or a
# terminal's voice in Japanese scripts (ﾋﾟﾋﾟｯ、ｼｽﾃﾑｷﾄﾞｳ), written as words. GBK or Big5
# bytes read as CP932 give them too, mostly one at a time among rare kanji, and as
# half-width punctuation (｡ ｢ ｣ ､ ･), which is left out.
_HALF_WIDTH_KANA = frozenset(map(chr, range(0xFF66, 0xFFA0)))
_HALF_WIDTH_WORDS = re.compile("[\uff66-\uff9f]{2,}")


def _half_width_words(text: str) -> int:
    """How many of the text's characters are half-width katakana in runs of two or more,
    counted as common for Japanese: a tiny CP932 script of ATRI's robot voice was refused
    (84% common), or read as Korean."""
    return sum(map(len, _HALF_WIDTH_WORDS.findall(text)))


# Korean puts a space between words (eojeol) of 2-4 syllables: about one space for every
# three syllables. Chinese or Japanese read as CP949 has Hangul with almost no spaces.
MIN_KOREAN_SPACES = 0.15


def _spaced_like_korean(text: str) -> bool:
    syllables = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    return syllables > 0 and text.count(" ") >= MIN_KOREAN_SPACES * syllables


# The rules `plausibility` judges a GB18030 decode by when kana count as common: for the
# last try, Japanese text saved in a Chinese encoding.
_GB_WITH_KANA = "gb18030+kana"

# The plausibility rules a forced encoding's text is judged by (`_refuse_if_garbled`), by
# its codec's canonical name: the lenient ones, kana allowed in GB text, since the user
# chose it. Other encodings (Big5, Windows-1252 …) have no rules here and are not judged.
_FORCED_RULES = {
    **dict.fromkeys(("gb2312", "gbk", "gb18030", "hz"), _GB_WITH_KANA),
    **dict.fromkeys(
        ("cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004",
         "euc_jisx0213"),
        "cp932",
    ),
    **dict.fromkeys(("cp949", "euc_kr"), "cp949"),
}  # fmt: skip


# Marks Chinese and Japanese scripts and dumps write, each one symbol of GB2312 and of
# Shift-JIS/EUC-JP alike: a translation dump (`○000012○原文` / `●000012●译文`) has two on
# every line, which made a GBK one implausible as GB18030.
_MARKS = frozenset("○●◎◇◆□■△▲☆★※")


@lru_cache(maxsize=65536)
def _is_common(ch: str, encoding: str) -> bool:
    code = ord(ch)
    if 0x3041 <= code <= 0x3096 or 0x30A1 <= code <= 0x30FA:
        # Kana are Japanese, never Chinese. EUC-JP and GB2312 put them at the same bytes,
        # so a Japanese EUC-JP file read as GB18030 keeps its kana right, and its kanji
        # become GB2312 level 1 hanzi (the same rows): counted as common, kana made that
        # garbled decode look plausible.
        return encoding != "gb18030"
    if 0x3000 <= code <= 0x30FF or 0xFF01 <= code <= 0xFF5E:
        return True  # CJK punctuation, ・ ー, full-width forms
    if ch in _MARKS:
        return True
    if code in (0x2026, 0x2025, 0x2014, 0x2015, 0x2018, 0x2019, 0x201C, 0x201D, 0x00B7):
        return True  # … ‥ — ― ‘ ’ “ ” ·
    if encoding == "cp949":
        # The 2,350 Hangul syllables EUC-KR has (KS X 1001): Korean text is made of them;
        # Shift-JIS bytes read as CP949 land on the rest, its extension.
        return 0xAC00 <= code <= 0xD7A3 and _in_ks_x_1001(ch)
    if encoding.startswith("utf-16"):
        # Either language is fine in UTF-16; a mis-decode yields rare or private chars.
        return _in_gb2312_level1(ch) or _in_jis_level1(ch) or (ch.isalpha() and ch < "\u0250")
    if encoding in ("shift_jis", "cp932", "euc_jp"):
        return _in_jis_level1(ch)
    if encoding == "big5":
        return _in_big5_frequent(ch) or _in_gb2312_level1(ch)
    return _in_gb2312_level1(ch) or (unicodedata.category(ch) == "Po" and code < 0x2100)


def _in_ks_x_1001(ch: str) -> bool:
    # Python's euc_kr writes the other syllables as 8-byte jamo sequences (KS X 1001 annex 3).
    try:
        return len(ch.encode("euc_kr")) == 2
    except UnicodeEncodeError:
        return False


def _in_big5_frequent(ch: str) -> bool:
    # Big5's 5,401 frequently used hanzi (0xA440-0xC67E), Traditional Chinese's everyday ones.
    try:
        raw = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and 0xA440 <= int.from_bytes(raw, "big") <= 0xC67E


def _in_gb2312_level1(ch: str) -> bool:
    try:
        raw = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and 0xB0 <= raw[0] <= 0xD7


def _in_jis_level1(ch: str) -> bool:
    try:
        raw = ch.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and (raw[0], raw[1]) >= (0x88, 0x9F) and raw[0] <= 0x98


# charset-normalizer's Korean guesses, kept only for Hangul spaced into words (as
# `_candidates` keeps CP949): it read a two-line Big5 file as johab, Hangul nonsense.
_KOREAN = frozenset(("johab", "cp949", "euc_kr", "iso2022_kr"))


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    for match in from_bytes(data[: SAMPLE_BYTES * 4]):
        if match.encoding is None:
            continue
        try:
            text = data.decode(match.encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if codecs.lookup(match.encoding).name in _KOREAN and not _spaced_like_korean(
            text[:SAMPLE_BYTES]
        ):
            continue
        return text, match.encoding
    return None

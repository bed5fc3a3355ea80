"""Read a script's bytes into text without guessing wrong.

Order, from most to least certain: a byte-order mark; strict UTF-8; UTF-16 without a
BOM when the NUL bytes say so; then GB18030 and Shift-JIS, kept only if the decoded
text is plausible (mostly common characters of that language); charset-normalizer
last, for anything else (Big5, EUC-KR, cp1252 …).
"""

from __future__ import annotations

import codecs
import unicodedata
from functools import lru_cache

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


def decode_bytes(data: bytes, source: str, encoding: str = "auto") -> tuple[str, str]:
    """Return (text, encoding name); raise DataprepError naming `source` if impossible."""
    if encoding != "auto":
        try:
            return _strip_bom(data.decode(encoding)), encoding
        except (UnicodeDecodeError, LookupError):
            raise DataprepError(
                f"{source}: is not valid {encoding} text; fix [dataprep] encoding or set it to"
                ' "auto".'
            ) from None
    for bom, name in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(name), name
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for name in _candidates(data):
        text = _decode_plausible(data, name)
        if text is not None:
            return text, name
    guessed = _charset_normalizer_guess(data)
    if guessed is not None:
        return guessed
    raise DataprepError(
        f"{source}: cannot tell its text encoding; save it as UTF-8 or set [dataprep] encoding."
    )


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _candidates(data: bytes) -> list[str]:
    head = data[:SAMPLE_BYTES]
    names = ["gb18030", "shift_jis"]
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


def _decode_plausible(data: bytes, name: str) -> str | None:
    head = data[:SAMPLE_BYTES]
    # A multi-byte character cut by the sample boundary is not an error of the file.
    sample = codecs.getincrementaldecoder(name)(errors="strict")
    try:
        head_text = sample.decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if plausibility(head_text, name) < MIN_PLAUSIBLE:
        return None
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        return None


def plausibility(text: str, encoding: str) -> float:
    """Share of non-ASCII characters that are common in text of that encoding's language.

    Mis-decoded bytes land on rare ideographs, half-width katakana, Hangul or private
    use characters, so a correct decode scores near 1 and a wrong one far below.
    """
    if "\x00" in text and not encoding.startswith("utf-16"):
        return 0.0
    total = common = 0
    for ch in text:
        if ch < "\x80":
            if ch < " " and ch not in "\t\r\n":
                return 0.0
            continue
        total += 1
        if _is_common(ch, encoding):
            common += 1
    if total == 0:
        return 1.0
    return common / total


@lru_cache(maxsize=65536)
def _is_common(ch: str, encoding: str) -> bool:
    code = ord(ch)
    if 0x3000 <= code <= 0x30FF or 0xFF01 <= code <= 0xFF5E:
        return True  # CJK punctuation, kana, full-width forms
    if code in (0x2026, 0x2025, 0x2014, 0x2015, 0x2018, 0x2019, 0x201C, 0x201D, 0x00B7):
        return True  # … ‥ — ― ‘ ’ “ ” ·
    if encoding.startswith("utf-16"):
        # Either language is fine in UTF-16; a mis-decode yields rare or private chars.
        return _in_gb2312_level1(ch) or _in_jis_level1(ch) or (ch.isalpha() and ch < "\u0250")
    if encoding == "shift_jis":
        return _in_jis_level1(ch)
    return _in_gb2312_level1(ch) or (unicodedata.category(ch) == "Po" and code < 0x2100)


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


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[: SAMPLE_BYTES * 4]).best()
    if best is None or best.encoding is None:
        return None
    try:
        return data.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError):
        return None

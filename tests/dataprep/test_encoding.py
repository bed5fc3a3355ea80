"""Encoding detection: the same script saved in each encoding reads back identically."""

from __future__ import annotations

import codecs

import pytest

from dataprep.encoding import decode_bytes, plausibility
from dataprep.errors import DataprepError
from tests.dataprep.conftest import FIXTURES

ZH = (FIXTURES / "plain_zh.txt").read_text(encoding="utf-8")
# GBK has no katakana middle dot; Chinese dumps saved as GBK use the ellipsis instead.
ZH_GBK = ZH.replace("・", "…")
JA = (FIXTURES / "plain_ja.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "raw_encoding", "expected"),
    [
        (ZH, "utf-8", "utf-8"),
        (ZH, "utf-8-sig", "utf-8"),
        (ZH, "utf-16", None),  # with BOM, either byte order
        (ZH, "utf-16-le", "utf-16-le"),
        (ZH, "utf-16-be", "utf-16-be"),
        (ZH, "gb18030", "gb18030"),
        (ZH_GBK, "gbk", "gb18030"),
        (JA, "utf-8-sig", "utf-8"),
        (JA, "shift_jis", "cp932"),
        (JA, "utf-16", None),
        (JA, "utf-16-le", "utf-16-le"),
    ],
)
def test_same_fixture_in_each_encoding_reads_back(
    text: str, raw_encoding: str, expected: str | None
) -> None:
    decoded, found = decode_bytes(text.encode(raw_encoding), "script.txt")
    assert decoded == text
    if expected is None:
        assert found in {"utf-16-le", "utf-16-be"}
    else:
        assert found == expected


def test_forced_encoding_is_used_and_a_wrong_one_is_one_sentence() -> None:
    data = ZH.encode("gb18030")
    assert decode_bytes(data, "a.txt", "gb18030") == (ZH, "gb18030")
    with pytest.raises(DataprepError) as err:
        decode_bytes(data, "a.txt", "utf-8")
    assert str(err.value).startswith("a.txt: is not valid utf-8 text")


def test_bytes_that_are_no_text_name_the_file() -> None:
    noise = bytes(range(256)) * 8 + b"\x00\xff\xfe\x81" * 50
    with pytest.raises(DataprepError) as err:
        decode_bytes(noise, "noise.bin")
    assert "noise.bin" in str(err.value) and "encoding" in str(err.value)


def test_mis_decoded_text_is_implausible() -> None:
    # GBK bytes read as Shift-JIS (and the other way round) must score low.
    gbk_as_sjis = ZH_GBK.encode("gbk").decode("shift_jis", errors="replace")
    sjis_as_gbk = JA.encode("shift_jis").decode("gb18030", errors="replace")
    assert plausibility(gbk_as_sjis, "shift_jis") < 0.85
    assert plausibility(sjis_as_gbk, "gb18030") < 0.85
    assert plausibility(ZH, "gb18030") > 0.95
    assert plausibility(JA, "shift_jis") > 0.95


def test_utf16_bom_is_not_part_of_the_text() -> None:
    data = codecs.BOM_UTF16_LE + "夏生：你好".encode("utf-16-le")
    assert decode_bytes(data, "x.txt") == ("夏生：你好", "utf-16-le")


def test_a_stray_byte_costs_one_character_and_is_counted() -> None:
    from dataprep.encoding import decode_report

    data = ZH.encode("utf-8")
    at = data.index("亚托莉".encode())
    broken = data[:at] + b"\xff" + data[at:]
    decoded = decode_report(broken, "stray.txt")
    assert decoded.encoding == "utf-8"
    assert decoded.text == ZH[: len(data[:at].decode())] + "\ufffd" + ZH[len(data[:at].decode()) :]
    assert decoded.replaced_bytes == 1
    assert decoded.first_replaced_line == data[:at].count(b"\n") + 1


def test_stray_bytes_in_utf16_are_counted_on_the_right_line() -> None:
    from dataprep.encoding import decode_report

    data = (
        codecs.BOM_UTF16_LE
        + "夏生：一\n亚托莉：二\n".encode("utf-16-le")
        + b"\x00\xd8"
        + "啊".encode("utf-16-le")
    )
    decoded = decode_report(data, "u16.txt")
    assert decoded.encoding == "utf-16-le" and decoded.replaced_bytes == 2
    assert decoded.first_replaced_line == 3


def test_mostly_undecodable_is_refused_with_the_count() -> None:
    with pytest.raises(DataprepError) as err:
        decode_bytes(bytes(range(128, 256)) * 4 + b"abc", "blob.txt", "utf-8")
    assert "blob.txt: is not valid utf-8 text (" in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "gb18030"])
def test_a_big_file_decoded_in_slices_reads_as_one_decode(encoding: str) -> None:
    from dataprep.encoding import DECODE_CHUNK, decode_report

    # Odd-length lines, so that slice boundaries fall inside multi-byte characters.
    text = "".join(f"夏生：第{i}句，好的。\n亚托莉：嗯a\n" for i in range(DECODE_CHUNK // 10))
    data = text.encode(encoding)
    assert len(data) > 2 * DECODE_CHUNK
    decoded = decode_report(data, "big.txt", encoding)
    assert decoded.text == text and decoded.replaced_bytes == 0


def test_a_stray_byte_after_the_first_slice_is_found_on_its_line() -> None:
    from dataprep.encoding import DECODE_CHUNK, decode_report

    text = "".join(f"夏生：第{i}句\n" for i in range(DECODE_CHUNK // 8))
    data = text.encode("utf-8")
    at = data.index(b"\n", DECODE_CHUNK + 7) + 1
    decoded = decode_report(data[:at] + b"\xff" + data[at:], "big.txt")
    assert decoded.encoding == "utf-8" and decoded.replaced_bytes == 1
    assert decoded.first_replaced_line == data[:at].count(b"\n") + 1
    assert decoded.text.replace("\ufffd", "") == text


KO = (
    "아토리: 좋은 아침이에요, 나츠키 씨! 오늘은 날씨가 정말 좋네요.\n"
    "나츠키: 응, 좋은 아침. 바다에 가고 싶어?\n"
    "아토리: 네! 저는 고성능이니까요. 같이 가요.\n"
)


@pytest.mark.parametrize("raw_encoding", ["euc_kr", "cp949"])
def test_korean_in_euc_kr_is_read_as_korean_not_as_chinese(raw_encoding: str) -> None:
    """EUC-KR's Hangul bytes are GB2312's level 1 hanzi rows: a Korean fan translation
    read as GB18030 came out as plausible-looking Chinese ("아토리" as "酒配府")."""
    decoded, found = decode_bytes(KO.encode(raw_encoding), "script.txt")
    assert (decoded, found) == (KO, "cp949")


def test_chinese_and_japanese_are_no_korean_even_spaced() -> None:
    """CP949 reads most GBK and Shift-JIS bytes too (as Hangul): a Korean reading needs
    the syllables EUC-KR has and Korean's spaces between words."""
    for text, raw in [(ZH_GBK, "gbk"), (JA, "shift_jis")]:
        spaced = text.replace("。", "。 ").replace("，", "， ").replace("、", "、 ")
        assert decode_bytes(spaced.encode(raw), "s.txt")[1] != "cp949"
        assert plausibility(text.encode(raw).decode("cp949", errors="replace"), "cp949") < 0.85


# A translation dump: `○N○` before each original line, `●N●` before its translation.
DUMP = (FIXTURES / "s39_dumps" / "atri_01.txt").read_text(encoding="utf-8")
DUMP_ZH = "\n".join(line for line in DUMP.splitlines() if not line.startswith("○"))


@pytest.mark.parametrize("text", [DUMP, DUMP_ZH], ids=["with-japanese", "chinese-only"])
def test_a_translation_dump_saved_as_gbk_is_read_as_gb18030(text: str) -> None:
    # Its marks, two on every line, were no common characters: a dump with the Japanese
    # in it was "not text in any encoding tried".
    decoded, encoding = decode_bytes(text.encode("gbk"), "a.txt")
    assert (decoded, encoding) == (text, "gb18030")

"""Session 66 review: a GBK or CP932 script with one bad byte is read, not skipped whole;
a forced CJK encoding that garbles a file another reads plausibly refuses it, naming that
one; a .csv text cell cut at an unquoted comma is joined back, and the run says so."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.encoding import decode_report
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline

ZH = (
    "夏生：「今天天气真好啊。」\n"
    "亚托莉：「是的！因为我是高性能的嘛！」\n"
    "海浪拍打着礁石，远处传来海鸥的叫声。\n"
    "夏生：「你又去抓螃蟹了吗？」\n"
    "亚托莉：「螃蟹是很好吃的食物哦。」\n"
) * 20
JA = (
    "夏生「アトリ、おはよう。」\n"
    "アトリ「おはようございます、夏生さん！」\n"
    "潮風が吹いてくる。夏生は堤防の上から遠くを眺めていた。\n"
    "夏生「またカニを持って帰ってきたのか。」\n"
    "アトリ「わたしは高性能ですから！」\n"
) * 20
# The reviewer's dump: Japanese lines whose speakers are written in ASCII.
JA_ASCII_NAMES = JA.replace("夏生「", "Natsuki: 「").replace("アトリ「", "Atri: 「")
HANGUL = "아토리: 안녕하세요, 나츠키 씨! 저는 고성능 로봇이에요.\n나츠키: 그래, 좋은 아침.\n" * 20


# A byte the codec cannot read at the end of a line (CP932 reads 0xFF as a private use
# character, and 0x81 before a character as a lead byte).
BAD_BYTE = {"gbk": b"\xff", "cp932": b"\x81"}


def with_bad_byte(text: str, codec: str, line: int) -> bytes:
    """`text` in `codec`, with a byte it cannot read at the end of `line`."""
    lines = text.encode(codec).split(b"\n")
    lines[line - 1] += BAD_BYTE[codec]
    return b"\n".join(lines)


@pytest.mark.parametrize(("text", "codec"), [(ZH, "gbk"), (JA, "cp932")])
def test_a_legacy_script_with_one_bad_byte_is_read_as_its_encoding(text: str, codec: str) -> None:
    # Before: "is not text in any encoding tried (… unreadable as UTF-8 …)", skipped whole.
    data = with_bad_byte(text, codec, line=11)
    guessed = decode_report(data, "ch2.txt")
    forced = decode_report(data, "ch2.txt", codec)
    assert guessed.guessed
    assert guessed.text == forced.text
    assert guessed.text.replace("\ufffd", "", 1) == text
    assert (guessed.replaced_bytes, guessed.first_replaced_line) == (1, 11)


def test_the_run_reports_the_bad_byte_as_for_a_forced_encoding(tmp_path: Path) -> None:
    script = tmp_path / "ch2.txt"
    script.write_bytes(with_bad_byte(ZH, "gbk", line=11))
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0)
    (report,) = run_pipeline(settings, [script]).stats.files
    assert report.error is None
    assert report.warning == (
        f"{script}: 1 byte(s) could not be read as gb18030 and became �, on 1 of 100 lines,"
        " the first on line 11; the rest of the file was read."
    )


@pytest.mark.parametrize(
    ("text", "codec", "read_as"),
    [(ZH, "gbk", "gb18030"), (JA, "cp932", "cp932"), (JA, "euc_jp", "euc_jp")],
)
def test_clean_legacy_scripts_are_read_as_before(text: str, codec: str, read_as: str) -> None:
    decoded = decode_report(text.encode(codec), "a.txt")
    assert (decoded.text, decoded.encoding, decoded.replaced_bytes) == (text, read_as, 0)


def test_binary_data_is_still_refused_and_names_no_encoding() -> None:
    data = random.Random(66).randbytes(20_000)
    with pytest.raises(DataprepError, match="is not text in any encoding tried") as refused:
        decode_report(data, "a.bin")
    assert "nearest" not in str(refused.value)


def test_a_script_with_too_many_bad_bytes_is_refused_naming_its_nearest_encoding() -> None:
    lines = ZH.encode("gbk").split(b"\n")
    lines[10] += b"\xff" * 1000  # past the stray bytes allowed (10% of the non-ASCII ones)
    data = b"\n".join(lines)
    with pytest.raises(DataprepError) as refused:
        decode_report(data, "a.txt")
    non_ascii = sum(b >= 0x80 for b in data)
    message = str(refused.value)
    # Before: only how many bytes were unreadable "as UTF-8".
    assert message.startswith("a.txt: is not text in any encoding tried (")
    assert message.endswith(
        f"; nearest gb18030, which cannot read 1000 of its {non_ascii} non-ASCII bytes, at"
        " most 10% allowed); save it as UTF-8 or set [dataprep] encoding."
    )


@pytest.mark.parametrize("text", [JA_ASCII_NAMES, JA])
def test_a_forced_encoding_that_garbles_the_file_refuses_it_naming_the_right_one(
    tmp_path: Path, text: str
) -> None:
    # Before: 61 samples of mojibake with ASCII names, "no dialogue found" with Japanese ones.
    script = tmp_path / "ja.txt"
    script.write_bytes(text.encode("cp932"))
    settings = DataprepSettings(
        lead_aliases=["Natsuki", "夏生"],
        character_aliases=["Atri", "アトリ"],
        encoding="gb18030",
        eval_ratio=0,
    )
    result = run_pipeline(settings, [script])
    assert not result.train
    (report,) = result.stats.files
    assert report.error == (
        f"{script}: read as gb18030 ([dataprep] encoding), but it reads as cp932: as gb18030"
        " only 0% of its characters are common ones, garbled text; set [dataprep] encoding"
        ' to "cp932", or to "auto" if the files differ.'
    )


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (ZH, "gbk"),
        (JA, "cp932"),
        (JA, "euc_jp"),
        (HANGUL, "cp949"),
        (JA, "gbk"),  # Japanese saved by a Chinese tool: read as the user says
        (ZH, "big5"),  # no rules to judge Big5 by: read as given, as before
    ],
)
def test_a_forced_encoding_the_file_is_in_reads_it(text: str, codec: str) -> None:
    data = text.encode("gbk" if codec == "big5" else codec)
    decoded = decode_report(data, "a.txt", codec)
    assert decoded.encoding == codec
    if codec != "big5":
        assert decoded.text == text


COMMA = "name,text\n夏生,「这个多少钱？」\n亚托莉,「一共1,000日元，夏生先生。」\n夏生,「好贵。」\n"


def prep_table(tmp_path: Path, text: str) -> tuple[list[str], list[str]]:
    """The replies of a run over `text` saved as a.csv, and the run's notes."""
    script = tmp_path / "a.csv"
    script.write_text(text, encoding="utf-8")
    settings = DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, min_reply_chars=1
    )
    result = run_pipeline(settings, [script])
    return [s.turns[-1][1] for s in result.train], result.notes


@pytest.mark.parametrize("text", [COMMA, COMMA.split("\n", 1)[1]], ids=["header", "no header"])
def test_a_text_cell_cut_at_an_unquoted_comma_is_joined_back(tmp_path: Path, text: str) -> None:
    # Before: the reply was 一共1, the rest of the row dropped without a word.
    replies, notes = prep_table(tmp_path, text)
    assert replies == ["一共1,000日元，{{user}}先生。"]
    line = 3 if text is COMMA else 2
    assert (
        f"1 row in a.csv (line {line}) held more cells than the header names, a text cut at"
        " a delimiter not in quotes (`1,000`): the extra cells were joined back into the"
        " text, the last column."
    ) in notes


def test_a_cut_text_not_in_the_last_column_is_said_to_be_ambiguous(tmp_path: Path) -> None:
    text = (
        "name,text,voice\n夏生,「这个多少钱？」,v1.ogg\n"
        "亚托莉,「一共1,000日元，夏生先生。」,v2.ogg\n夏生,「好贵。」,v3.ogg\n"
    )
    replies, notes = prep_table(tmp_path, text)
    assert replies == ["一共1"]  # read as split: which cell the comma cut is not known
    assert (
        "1 row in a.csv (line 3) held more cells than the header names (a delimiter not in"
        " quotes), and the text is not the last column, so where it was cut cannot be told:"
        " they were read as split; put quotes around those cells."
    ) in notes


def test_columns_the_header_leaves_unnamed_are_not_joined(tmp_path: Path) -> None:
    text = "name,text\n夏生,「你好。」,x\n亚托莉,「你好呀，夏生先生。」,y\n"
    replies, notes = prep_table(tmp_path, text)
    assert replies == ["你好呀，{{user}}先生。"]
    assert not [n for n in notes if "more cells than the header" in n]

"""A forced `[dataprep] encoding` (a game's CP932) made mojibake of the UTF-8 files in
the same folder (a fan translation saved beside it): a file whose bytes say Unicode is
read as such, and the run says so."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.encoding import decode_report
from dataprep.pipeline import run_pipeline

JA = "夏生「おはよう」\nアトリ「おはようございます！　高性能ですから！」\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (JA.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + JA.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + JA.encode("utf-16-le"), "utf-16-le"),
    ],
    ids=["utf-8", "utf-8 with a BOM", "utf-16 with a BOM"],
)
def test_unicode_bytes_win_over_a_forced_legacy_encoding(data: bytes, encoding: str) -> None:
    decoded = decode_report(data, "a.txt", "cp932")
    assert (decoded.text, decoded.encoding, decoded.replaced_bytes) == (JA, encoding, 0)
    assert decoded.instead_of == "cp932"


def test_a_file_in_the_forced_encoding_is_still_read_in_it() -> None:
    decoded = decode_report(JA.encode("cp932"), "a.txt", "cp932")
    assert (decoded.text, decoded.encoding, decoded.instead_of) == (JA, "cp932", None)
    ascii_only = decode_report(b"Atri: Hi!\n", "a.txt", "cp932")
    assert (ascii_only.encoding, ascii_only.instead_of) == ("cp932", None)


def test_a_forced_unicode_encoding_is_used_as_given() -> None:
    assert decode_report(JA.encode("utf-8"), "a.txt", "utf-8").instead_of is None


def test_a_folder_of_cp932_and_utf8_scripts_reads_both_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "game.txt").write_bytes(JA.encode("cp932"))
    (tmp_path / "fan.txt").write_bytes("恭「元気？」\nアトリ「はい、元気です！」\n".encode())
    settings = DataprepSettings(
        lead_aliases=["夏生", "恭"], character_aliases=["アトリ"], encoding="cp932", eval_ratio=0
    )
    result = run_pipeline(settings, [tmp_path])
    assert not [f.warning for f in result.stats.files if f.warning]
    assert {f.encoding for f in result.stats.files} == {"cp932", "utf-8"}
    assert sorted(s.turns[-1][1] for s in result.train) == [
        "おはようございます！\u3000高性能ですから！",
        "はい、元気です！",
    ]
    assert [n for n in result.notes if n.startswith("Read as")] == [
        'Read as utf-8, not as [dataprep] encoding "cp932": fan.txt; they carry a byte-order'
        " mark or are valid UTF-8, which cp932 would have garbled."
    ]

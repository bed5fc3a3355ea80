"""Japanese scripts saved by Windows tools (KiriKiri's) are CP932, not plain Shift-JIS."""

from __future__ import annotations

from pathlib import Path

from dataprep.encoding import decode_bytes

JA = (Path(__file__).parent / "fixtures" / "plain_ja.txt").read_text(encoding="utf-8")


def test_windows_characters_in_a_shift_jis_file_read_back() -> None:
    # 髙 and 﨑 (IBM/NEC kanji common in names), ① and ～ as Windows writes them: plain
    # Shift-JIS cannot read them, and the guess after it read the file as shift_jis_2004,
    # 髙橋 as 郄橋, silently.
    text = JA + "【山﨑】「髙橋くん、待って～①」\n"
    decoded, encoding = decode_bytes(text.encode("cp932"), "scene.ks")
    assert (decoded, encoding) == (text, "cp932")


def test_a_plain_shift_jis_file_is_read_as_cp932_its_superset() -> None:
    # Session 51: CP932 reads every Shift-JIS file, and is the name reported.
    assert decode_bytes(JA.encode("shift_jis"), "scene.ks") == (JA, "cp932")

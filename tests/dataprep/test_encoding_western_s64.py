"""Session 64: a script saved as Windows-1252 ("ANSI" on a Western Windows) is read as
such. The CJK encodings read its few high bytes as a plausible kanji ("Let’s" became
"Let痴" as CP932) and charset-normalizer chose a Central European code page for English
("naïvely" became "naďvely" as CP1250). CJK files are never taken for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.encoding import decode_report

ZH = (Path(__file__).parent / "fixtures" / "plain_zh.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Natsuki: Let’s go.\nATRI: Okay!\n", "cp1252"),
        ("Natsuki: “To the café,” he said — naïvely.\nATRI: I’m a robot!\n" * 20, "cp1252"),
        (
            "Natsuki : « Allons au café », dit-il.\nATRI : Très bien, à vos ordres !\n" * 9,
            "latin-1",
        ),
        ("Natsuki: Schöne Grüße aus München.\nATRI: Das ist großartig!\n" * 10, "cp1252"),
        ("ATRI: ¡Hola! ¿Qué tal, señor? Cuesta 5 €… ©\n" * 3, "cp1252"),
    ],
)
def test_western_prose_is_read_as_windows_1252(text: str, codec: str) -> None:
    decoded = decode_report(text.encode(codec), "script.txt")
    assert (decoded.text, decoded.encoding, decoded.guessed) == (text, "cp1252", True)
    assert decoded.replaced_bytes == 0


KANA = "アトリ：「はい、夏生さん！私は高性能ですから！」\n夏生：そうか。\n" * 5
HANGUL = "아토리: 안녕하세요, 나츠키 씨! 저는 고성능 로봇이에요.\n" * 5


@pytest.mark.parametrize(
    ("text", "codec", "read_as"),
    [
        (ZH, "gb18030", "gb18030"),
        (ZH[:200], "gb18030", "gb18030"),
        (KANA, "cp932", "cp932"),
        (KANA, "euc_jp", "euc_jp"),
        (HANGUL, "cp949", "cp949"),
        ("亞托莉：「我是高性能的機器人！」\n夏生：是嗎。\n" * 5, "big5", "big5"),
    ],
)
def test_cjk_scripts_are_not_taken_for_windows_1252(text: str, codec: str, read_as: str) -> None:
    decoded = decode_report(text.encode(codec), "script.txt")
    assert decoded.text == text
    assert decoded.encoding == read_as

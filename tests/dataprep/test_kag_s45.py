"""KiriKiri KAG and TyranoScript scenarios as games write them (fixtures/s45_kag, written
for these tests): code blocks that end mid-line, and the hint a file of undefined name
macros gives."""

from __future__ import annotations

from dataprep.formats import ParseOptions, kirikiri, parse
from tests.dataprep.conftest import FIXTURES

GAME = FIXTURES / "s45_kag"
CHARACTERS = FIXTURES / "s44_kag" / "tyrano" / "first.ks"


def test_text_after_the_tag_ending_a_code_block_on_its_line_is_read() -> None:
    # TyranoScript ends `[iscript]` and `[html]` where their end tag is on the line: a
    # block ending mid-line (`…getDate();[endscript]`) never ended, and the rest of the
    # file was code; text after `[endscript]` / `[endhtml]` on its line was dropped.
    scene = (GAME / "tyrano" / "scene02.ks").read_text(encoding="utf-8")
    names = kirikiri.display_names(CHARACTERS.read_text(encoding="utf-8"))
    said = parse(scene, "scene02.ks", "kirikiri", ParseOptions(kirikiri_names=names))
    assert [(u.speaker, u.text, u.line) for u in said] == [
        ("汐里", "「おはよう。今日も早いね」", 8),
        ("悠真", "「まあね。汐里こそ」", 13),
        (None, "机の上に、白い封筒が置いてあった。", 16),
        ("汐里", "「それ、わたしから。あとで読んでね」", 19),
    ]


def test_a_macro_defined_after_a_code_block_ending_mid_line_is_found() -> None:
    # The block never ended for `macro_tags` either: the name macro after it was lost.
    first = "[iscript]\nf.name = '悠真';[endscript]\n[macro name=sh][nm t=汐里][endmacro]\n"
    assert kirikiri.macro_tags(first) == {"sh": "[nm t=汐里]"}

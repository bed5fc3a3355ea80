"""Session 52: Cross Channel's .CCS lines (and other dumps') keep their ruby in braces,
`{七香:Nanaka}`, and a `\\n` escape before a translator's note, `「ゴイシャス」\\n※…`:
the reading, the braces, the escape and the note all came through to the replies."""

from __future__ import annotations

import pytest

from dataprep.clean import clean_text


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        (
            "“重大发现。不觉得把‘{七香:Nanaka}’音译成‘娜娜卡’更可爱吗！？”",
            "重大发现。不觉得把‘七香’音译成‘娜娜卡’更可爱吗！？",
        ),
        ("{恭:うやうや}しく指を取る。", "恭しく指を取る。"),
        ("「ゴイシャス」\\n※ゴイス（凄い）＋デリシャス", "ゴイシャス"),
        ("“厉帅。”\\n※厉害＋帅呆了。", "厉帅。"),
        ("いくらで\\nもツケてくれる", "いくらで もツケてくれる"),  # a break, as a joined line's
    ],
)
def test_brace_ruby_and_escaped_breaks(line: str, clean: str) -> None:
    assert clean_text(line) == clean


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        ("你好，{{user}}。", "你好，{{user}}。"),
        ("早上好，{名字}！", "早上好，{名字}！"),  # a slot (`{name}` is markup, and goes)
        ("{七香: Nanaka}と{恭:うや うや}", "{七香: Nanaka}と{恭:うや うや}"),  # blanks: no ruby
        ("{{七香:Nanaka}}", "{{七香:Nanaka}}"),  # braces around it: no ruby
        ("平静でいられた。　※太一語。", "平静でいられた。　※太一語。"),  # ※ not after a break
        ("路径是 C:\\\\new", "路径是 C:\\\\new"),  # an escaped backslash, then n
    ],
)
def test_what_is_not_ruby_nor_a_note_stays(line: str, clean: str) -> None:
    assert clean_text(line) == clean

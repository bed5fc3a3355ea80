"""Session 67: a Windows dump's escaped `\\r\\n` left a literal `\\r` in her replies
("还没有！\\r 想吃螃蟹！"), an escaped quote stayed escaped (`\\"Quoted\\"`), and a web dump's
HTML references stayed as written (`I &lt;3 crabs &amp; fish!`)."""

from __future__ import annotations

import pytest

from dataprep.clean import clean_text


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        # A break, as an escaped `\\n` is (a joined line's space).
        ("还没有！\\r\\n想吃螃蟹！", "还没有！ 想吃螃蟹！"),
        ("走吧！\\r我来做饭！", "走吧！ 我来做饭！"),
        ("Not yet!\\r\\nI want crab!", "Not yet! I want crab!"),
        ('\\"Quoted\\" words.', '"Quoted" words.'),
        ("I &lt;3 crabs &amp; fish!", "I <3 crabs & fish!"),
        ("&#12354;&#x3044;う", "あいう"),
    ],
)
def test_dump_escapes_become_what_they_stand_for(line: str, clean: str) -> None:
    assert clean_text(line) == clean


@pytest.mark.parametrize(
    "line",
    [
        "文件在 C:\\reports\\new 里。",  # a Windows path: `\r` and `\n` of its folders
        "AT&T; the shop",  # no reference HTML knows
        "Tom & Jerry; again",
        'A backslash then a quote: \\\\"',  # an escaped backslash, then a quote
    ],
)
def test_what_only_looks_like_an_escape_stays(line: str) -> None:
    assert clean_text(line) == line

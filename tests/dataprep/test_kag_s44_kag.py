"""KiriKiri KAG and TyranoScript scenarios as games write them (fixtures/s44_kag, written
for these tests): name macros (`@汐里`, `[汐里 voice=…]`) and TyranoScript's escapes."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, kirikiri, parse


def _said(text: str) -> list[tuple[str | None, str]]:
    options = ParseOptions(kirikiri_names=kirikiri.display_names(text))
    return [(u.speaker, u.text) for u in parse(text, "a.ks", "kirikiri", options)]


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("「あ、やっと来た！\\[遅刻\\]だよ！」[p]", "「あ、やっと来た！[遅刻]だよ！」"),
        ("「顔文字？　こういうの→ (\\^o\\^)/」[p]", "「顔文字？　こういうの→ (^o^)/」"),
        ("\\*これは注意書きではありません。[p]", "*これは注意書きではありません。"),
        ("\\#ハッシュタグ、なんてね。[p]", "#ハッシュタグ、なんてね。"),
        ("「斜め線は\\\\、こう書くの」[p]", "「斜め線は\\、こう書くの」"),
        # A Shift-JIS yen sign decodes as a backslash: no escape before a digit.
        ("「全部で\\1000だよ」[p]", "「全部で\\1000だよ」"),
    ],
)
def test_a_tyranoscript_escape_shows_the_mark_without_its_backslash(line: str, shown: str) -> None:
    # `\]` kept its backslash ("[遅刻\]"), and `\*` / `\#` at a line's start showed theirs.
    assert _said(f"#汐里\n{line}") == [("汐里", shown)]

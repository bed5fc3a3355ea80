"""A new user's KiriKiri/TyranoScript game (fixtures/s43_kag, written for these tests):
汐里 talking with a lead whose name the player types into `f.name` (default 悠真), over
TyranoScript and KAG files, one Shift-JIS, one with CRLF line ends."""

from __future__ import annotations

from dataprep.formats import ParseOptions, kirikiri, parse


def _said(text: str) -> list[tuple[str | None, str, str | None]]:
    options = ParseOptions(kirikiri_names=kirikiri.display_names(text))
    return [(u.speaker, u.text, u.dropped) for u in parse(text, "a.ks", "kirikiri", options)]


def test_a_click_wait_inside_a_quote_keeps_the_line_whole() -> None:
    # `「えっ……[l]うそ、本当に？」` was cut at [l], and "えっ……" then dropped as a line
    # of only a sound: she answered "うそ、本当に？".
    text = (
        "*a|一\n#悠真\n「灯台、取り壊されるんだってさ」[p]\n"
        "#汐里\n「えっ……[l]\n　うそ、本当に？」[p]\n"
        "「そっか……[l]寂しくなるね」[l][r]「でも、ありがと」[p]\n"
    )
    assert _said(text) == [
        ("悠真", "「灯台、取り壊されるんだってさ」", None),
        ("汐里", "「えっ……うそ、本当に？」", None),
        ("汐里", "「そっか……寂しくなるね」", None),  # the quote closed: [l] ends it
        ("汐里", "「でも、ありがと」", None),
    ]

"""A WebGAL scene of one `choose:` line with four options has the `a|b|c|d` shape of a
voice list's `path|speaker|lang|text`, and voice lists were checked first: the scene was
read as a voice list (its options as speakers and languages). A voice list's first field
is a voice file's path, so only such lines count now."""

from __future__ import annotations

import pytest

from dataprep.formats import detect_format, detect_format_why
from dataprep.formats.voice_list import is_entry

CHOOSE = "choose:去公园:park.txt|回家:home.txt|睡觉:sleep.txt|看书:read.txt;\n"


@pytest.mark.parametrize(
    "text",
    [
        CHOOSE,
        "choose: A:a.txt | B:b.txt | C:c.txt | D:d.txt ;\n",
        "choose:A:ch1/a.txt|B:ch1/b.txt|C:c.txt|D:d.txt;\n",
    ],
)
def test_a_webgal_choose_line_alone_is_webgal(text: str) -> None:
    assert detect_format(text, "start.txt") == "webgal"


@pytest.mark.parametrize(
    "line",
    [
        "voice/ch01/atr_0001.wav|亚托莉|ZH|不知道呢。",
        "atr_0001.OGG|亚托莉|ZH|不知道呢。",
        "vo.mp3|亚托莉|ZH|不知道呢。",
        "wavs/atr_0001|亚托莉|ZH|不知道呢。",
        "D:\\voice\\atr_0001|亚托莉|ZH|不知道呢。",
        "My Voices/atr 0001.flac|亚托莉|ZH|不知道呢。",
    ],
)
def test_a_line_led_by_a_voice_path_is_still_a_voice_list(line: str) -> None:
    assert is_entry(line)
    assert detect_format(f"{line}\n{line}\n", "list.txt") == "voice_list"
    assert detect_format(f"{line}\n", "list.csv") == "voice_list"


def test_four_fields_without_a_path_are_no_voice_list() -> None:
    assert not is_entry("choose:A:a.txt|B:b.txt|C:c.txt|D:d.txt;")
    assert not is_entry("atr_0001|亚托莉|ZH|不知道呢。")
    fmt, why = detect_format_why("a|b|c|d\n", "notes.txt")
    assert fmt != "voice_list", why

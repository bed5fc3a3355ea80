"""Session 53: a blank between two Chinese or Japanese letters in a speaker's name
(`【森　罗】`, `森 罗：`, spaced out to fill a name box) is dropped wherever the name is
read. Read as "森 罗", the same person was two names beside "森罗" in the speaker counts;
Latin names ("Mr. Smith", "Natsuki Kaito") keep their blanks."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, parse
from dataprep.formats.common import tidy_name


@pytest.mark.parametrize(
    ("name", "tidied"),
    [
        ("森\u3000罗", "森罗"),
        ("森 罗", "森罗"),
        ("斑鳩\u00a0夏生", "斑鳩夏生"),
        ("ア ト リ", "アトリ"),
        ("Mr. Smith", "Mr. Smith"),
        ("Natsuki\u3000Kaito", "Natsuki Kaito"),
        ("Atri 亚托莉", "Atri 亚托莉"),  # a Latin letter beside the blank
        ("亚托莉 (机器人)", "亚托莉 (机器人)"),
        ("김 철수", "김 철수"),  # Korean spaces its words
    ],
)
def test_a_blank_between_cjk_letters_is_dropped(name: str, tidied: str) -> None:
    assert tidy_name(name) == tidied


def speakers(text: str, fmt: str, source: str = "a.txt") -> list[str | None]:
    return [u.speaker for u in parse(text, source, fmt, ParseOptions())]


def test_each_reader_names_the_spaced_name_as_the_unspaced_one() -> None:
    assert speakers("【森　罗】「早上好」\n森罗：走吧。\n", "plain") == ["森罗", "森罗"]
    assert speakers("【森　罗】「呃啊！？」\\\n【森罗】「走吧」\\\n", "onscripter", "0.txt") == [
        "森罗",
        "森罗",
    ]
    assert speakers("森 罗:早上好;\n森罗:走吧;\n", "webgal") == ["森罗", "森罗"]
    assert speakers("a/1.wav|森　罗|ZH|早上好\n", "voice_list") == ["森罗"]


def test_latin_names_keep_their_blank() -> None:
    assert speakers("Natsuki Kaito: Fine.\nMr. Smith: Hello.\n", "plain") == [
        "Natsuki Kaito",
        "Mr. Smith",
    ]

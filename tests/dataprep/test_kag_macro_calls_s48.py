"""KiriKiri KAG / TyranoScript macros called with a line's text or a name (inline fixtures
written for these tests): the hint a file of calls to macros no file given defines
(`[say text="…"]`) gives, and a call's argument of several words put into a tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, kirikiri, parse
from dataprep.pipeline import run_pipeline

_MACROS = "[macro name=say][nm t=%name]「[emb exp=mp.text]」[p][endmacro]\n"
_SCENE = (
    "*start\n"
    '[say name=アトリ text="おはようございます、夏生さん。"]\n'
    "@say name=夏生 text=おはよう。今日も早いね\n"
    "[say name=アトリ text=「はい！」]\n"
)


def _errors(tmp_path: Path, files: dict[str, str]) -> list[str | None]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"])
    result = run_pipeline(settings, [tmp_path / name for name in files])
    return [f.error for f in result.files]


def test_no_dialogue_in_a_ks_file_of_undefined_macros_given_text_asks_for_them(
    tmp_path: Path,
) -> None:
    # With macro.ks left out every `[say text=…]` line was lost, and "no dialogue found"
    # gave no hint: `text=` marked the tags as no name macros.
    [error] = _errors(tmp_path, {"scene01.ks": _SCENE})
    assert error is not None
    assert error.startswith(f"{tmp_path / 'scene01.ks'}: no dialogue found as kirikiri;")
    assert error.endswith(
        ". Its lines seem written as tags no .ks file given defines (3 calls of [say] with"
        " the text in text=): if they are macros showing the line, give the .ks file that"
        " defines them too ([macro name=say], usually in first.ks or macro.ks)."
    )
    # With the macro given, the lines are theirs.
    assert _errors(tmp_path, {"macro.ks": _MACROS, "scene01.ks": _SCENE}) == [None, None]


def test_calls_are_named_by_the_attribute_holding_the_text() -> None:
    text = '[atr s="「こんにちは」"]\n[atr s=「やあ」]\n@line voice=a01 t="Good morning, Natsuki"\n'
    assert kirikiri.text_calls(text, ParseOptions()) == {("atr", "s"): 2, ("line", "t"): 1}


@pytest.mark.parametrize(
    "call",
    [
        '[ruby text="かんじ"]漢字',  # the engine's ruby
        "[rb text=なつき]夏生",  # a ruby macro: a reading is short, with no punctuation
        "[ch text=あ]",  # one character shown
        "[mych text=…]",  # one mark
        "@sio voice=shi_0101_a",  # an id, a file: no line
        "@bg storage=教室の風景、夕方.png",
        '[chr t="アトリ（幼少）"]',  # a name
        '[chr t="Mr. Smith"]',
        '[chr t="Natsuki Kaito"]',
        "[eval exp=\"f.a = '「」'\"]",  # code
        '[ptext text="第一章　はじまり。"]',  # TyranoScript's own text, no line
        "[sel text=行く？ target=*a]",  # a choice
        "[link target=*a][sel2 text=行かない？][endlink]",
        "[say text=やあ]",  # too short to tell: not counted (conservative)
    ],
)
def test_what_is_no_line_s_text_is_not_counted(call: str) -> None:
    assert kirikiri.text_calls(f"{call}\n「……」[p]\n", ParseOptions()) == {}


@pytest.mark.parametrize(
    "text",
    [
        "今日はいい天気だったね", "おはよう、夏生", "「うん」", "『それで』", "そう…", "本当？",
        "Hello!", "Good morning.", "Good morning Natsuki",
    ],
)  # fmt: skip
def test_what_looks_like_a_line_s_text_is_counted(text: str) -> None:
    assert kirikiri.text_calls(f'[say text="{text}"]\n', ParseOptions()) == {("say", "text"): 1}


def _said(*files: str) -> list[tuple[str | None, str]]:
    """What the last file says, read with what all of them define."""
    names = {key: value for text in files for key, value in kirikiri.display_names(text).items()}
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text) for u in parse(files[-1], "a.ks", "kirikiri", options)]


@pytest.mark.parametrize(
    "macro",
    [
        "[macro name=n][nm t=%name][endmacro]",
        "@macro name=n\n@nm t=%name\n@endmacro",
        '[macro name=n][nm t="%name"][endmacro]',
        "[macro name=n][nm t=&mp.name][endmacro]",
        "[macro name=n][nm t=%name|？？？][endmacro]",
        "[macro name=n]\n#%name\n[endmacro]",
        # A macro calling another, its argument passed on.
        "[macro name=nm2][nm t=%who][endmacro]\n[macro name=n][nm2 who=%name][endmacro]",
    ],
)
def test_a_name_of_several_words_given_to_a_macro_names_the_speaker_whole(macro: str) -> None:
    # Put into the body's `[nm t=%name]` unquoted, "Mr Smith" named "Mr".
    scene = (
        '[n name="Mr Smith"]「Hello.」[p]\n'
        "@n name='Natsuki Kaito'\n「Hi.」[p]\n"
        "[n name=アトリ]「はい」[p]\n"
    )
    assert _said(macro, scene) == [
        ("Mr Smith", "「Hello.」"),
        ("Natsuki Kaito", "「Hi.」"),
        ("アトリ", "「はい」"),
    ]


def test_an_argument_holding_a_quote_mark_or_a_bracket_is_put_in_whole() -> None:
    macro = "[macro name=n][nm t=%name][endmacro]\n"
    scene = '[n name=\'Mr "Smith"\']「Hello.」[p]\n[n name="[Smith]"]「Hi.」[p]\n'
    assert _said(macro, scene) == [('Mr "Smith"', "「Hello.」"), ("[Smith]", "「Hi.」")]


def test_an_argument_left_out_is_an_empty_value() -> None:
    # Put in as nothing, `t= voice=a` took `voice=a` for the name.
    macro = "[macro name=n][nm t=%name voice=%v][endmacro]\n"
    assert _said(macro, "[n v=a01]「……」[p]\n[n name=アトリ]「はい」[p]\n") == [
        (None, "「……」"),
        ("アトリ", "「はい」"),
    ]


def test_a_line_of_several_words_passed_to_another_macro_is_shown_whole() -> None:
    macros = (
        "[macro name=line]“[emb exp=mp.text]”[endmacro]\n"
        "[macro name=atr][nm t=Atri][line text=%s][p][endmacro]\n"
    )
    assert _said(macros, '[atr s="Good morning, Natsuki"]\n') == [
        ("Atri", "“Good morning, Natsuki”")
    ]

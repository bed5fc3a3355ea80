"""KiriKiri KAG / TyranoScript scenarios (inline fixtures written for these tests, in the
style of public TyranoScript games): an indent macro showing a full-width space before a
line, a name macro writing the name with `[ptext]`, and lines given to a macro whose
definition was left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, kirikiri, parse
from dataprep.pipeline import PrepResult, run_pipeline

SETTINGS = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"])


def _said(*files: str) -> list[tuple[str | None, str, str | None]]:
    """What the last file says (speaker, text, why unusable), read with what all of them
    define, as the pipeline reads a game's .ks files."""
    names = {key: value for text in files for key, value in kirikiri.display_names(text).items()}
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text, u.dropped) for u in parse(files[-1], "a.ks", "kirikiri", options)]


def _run(tmp_path: Path, *texts: str) -> PrepResult:
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i:02}.ks"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return run_pipeline(SETTINGS, paths)


def _exchanges(result: PrepResult) -> list[list[str]]:
    return [[text for _, text in s.turns] for s in result.train + result.evaluation]


# An indent macro (fumibako/script's `[sp]`): a full-width space shown before the quote.
_INDENT_MACRO = (
    '[macro name="sp"]\n[eval exp="sf.space=\'　\'"]\n[emb exp="sf.space"]\n[endmacro]\n'
)
_INDENTED_SCENE = (
    "*start\n#夏生\n「おはよう、アトリ」[p]\n"
    "#アトリ\n[sp]「おはようございます」[p]\n"
    "#夏生\n「今日は何をする？」[p]\n"
    "#アトリ\n[sp]「海に行きましょう！」[p]\n"
)


def test_a_variable_set_to_a_full_width_space_has_that_value() -> None:
    # `'　'.strip()` is "": the indent counted as never set, and lines showing it were lost.
    assert kirikiri.display_names("[eval exp=\"sf.space='　'\"]")["&sf.space"] == "　"


def test_an_indent_shown_before_a_quote_leaves_the_name_box_speaker() -> None:
    # Was: speaker "&sf.space", every line of hers marked as showing an unset variable.
    said = _said(_INDENT_MACRO, _INDENTED_SCENE)
    assert said == [
        ("夏生", "「おはよう、アトリ」", None),
        ("アトリ", "「おはようございます」", None),
        ("夏生", "「今日は何をする？」", None),
        ("アトリ", "「海に行きましょう！」", None),
    ]


def test_a_variable_shown_before_a_quote_leaves_a_name_box_speaker_in_force() -> None:
    # `#アトリ` shows her name in the name box: a variable before the quote is text.
    scene = "[eval exp=\"f.mark='◆'\"]\n#アトリ\n[emb exp=f.mark]「はい」[p]\n"
    assert _said(scene) == [("アトリ", "◆「はい」", None)]


def test_a_variable_shown_before_a_quote_still_names_the_speaker_with_no_name_box() -> None:
    scene = "[eval exp=\"f.name='夏生'\"]\n[emb exp=f.name]「ただいま」[p]\n"
    assert _said(scene) == [("夏生", "「ただいま」", None)]


def test_the_indent_macro_gives_samples(tmp_path: Path) -> None:
    result = _run(tmp_path, _INDENT_MACRO, _INDENTED_SCENE)
    assert _exchanges(result) == [
        ["おはよう、アトリ", "おはようございます"],
        ["おはよう、アトリ", "おはようございます", "今日は何をする？", "海に行きましょう！"],
    ]


# A name macro in the style of TyranoScript's sample game: the name written with `[ptext]`.
_PTEXT_MACRO = (
    '[macro name="whosay"]\n[iscript]\nmp.color = "black";\n[endscript]\n'
    '[ptext name="chara_name_area" layer="message0" text={text} color=&mp.color size=26'
    ' x=270 y=407 bold="bold"]\n[endmacro]\n'
)
_WHOSAY_SCENE = (
    '*start\n[whosay name="夏生"]\n「おはよう、アトリ」[p]\n'
    '[whosay name="アトリ"]\n「おはようございます」[p]\n'
)


@pytest.mark.parametrize("text", ["&mp.name", "%name", '"%name|？？？"'])
def test_a_macro_writing_its_name_argument_with_ptext_names_the_speaker(text: str) -> None:
    # Was: the macro named nobody, and with its file given every line was narration.
    said = _said(_PTEXT_MACRO.format(text=text), _WHOSAY_SCENE)
    assert said == [
        ("夏生", "「おはよう、アトリ」", None),
        ("アトリ", "「おはようございます」", None),
    ]


def test_a_macro_writing_another_argument_with_ptext_names_nobody() -> None:
    # A chapter title written on the stage is no speaker's name.
    macro = "[macro name=title][ptext layer=1 text=%title x=10 y=10][endmacro]\n"
    scene = "[title title=第一章]\n「おはよう」[p]\n"
    assert _said(macro, scene) == [(None, "「おはよう」", None)]


def test_the_name_macro_file_given_keeps_the_samples(tmp_path: Path) -> None:
    result = _run(tmp_path, _PTEXT_MACRO.format(text="&mp.name"), _WHOSAY_SCENE)
    assert _exchanges(result) == [["おはよう、アトリ", "おはようございます"]]

"""KiriKiri KAG / TyranoScript scenarios (inline fixtures written for these tests, in the
style of public TyranoScript games): an indent macro showing a full-width space before a
line, a name macro writing the name with `[ptext]`, and lines given to a macro whose
definition was left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, kirikiri, parse
from dataprep.formats.common import MACRO_LEFT_OUT, UNRESOLVED_VARIABLE
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


def test_an_unset_variable_shown_before_a_quote_leaves_a_name_box_speaker_in_force() -> None:
    # `#アトリ` shows her name: a variable no file sets before her quote (the indent of a
    # macro file not given) is no new speaker "&sf.space", but a hole in her line.
    scene = "#アトリ\n[emb exp=sf.space]「はい」[p]\n"
    assert _said(scene) == [("アトリ", "[sf.space]「はい」", UNRESOLVED_VARIABLE)]


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


# Lines given in a tag's attributes, to a macro whose definition was left out.
_ATTRIBUTE_LINES_SCENE = (
    "*p1|\n@nm t=夏生 s=nat_0001\n「アトリ、何を観てるんだ？」[np]\n"
    '*p2|\n@saudio t="アトリ" fv=atr_0056 front="「わ、わかりました」" bv=atr_0024'
    ' back="「あとで観るのっ！？」"\n'
    "*p3|\n@nm t=夏生 s=nat_0002\n「じゃあ一緒に観よう」[np]\n"
    "*p4|\n@nm t=アトリ s=atr_0003\n「はい、夏生さん！」[np]\n"
)


def test_a_line_given_to_an_undefined_tag_is_an_unusable_line_of_its_speaker() -> None:
    # Was: nothing in its place, so that the lines on either side of it became one turn.
    said = _said(_ATTRIBUTE_LINES_SCENE)
    assert said == [
        ("夏生", "「アトリ、何を観てるんだ？」", None),
        ("アトリ", "[saudio]", MACRO_LEFT_OUT),
        ("夏生", "「じゃあ一緒に観よう」", None),
        ("アトリ", "「はい、夏生さん！」", None),
    ]


def test_a_line_given_to_an_undefined_tag_with_no_name_is_the_message_speakers() -> None:
    scene = '#アトリ\n「ねえ」[p]\n[say text="「おはよう」"]\n'
    assert _said(scene) == [("アトリ", "「ねえ」", None), ("アトリ", "[say]", MACRO_LEFT_OUT)]


def test_a_line_given_to_an_undefined_tag_ends_the_exchange_and_is_named(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, _ATTRIBUTE_LINES_SCENE)
    assert _exchanges(result) == [["じゃあ一緒に観よう", "はい、{{user}}さん！"]]
    [note] = [n for n in result.notes if "[saudio]" in n]
    assert "1 line" in note and "macro.ks" in note


def test_a_choice_or_a_title_given_to_an_engine_tag_is_no_lost_line() -> None:
    scene = '[glink text="「行く」" target=*a]\n[ptext text="第一章、はじまり。" layer=1]\n「はい」[p]\n'
    assert _said(scene) == [(None, "「はい」", None)]


def test_a_call_given_a_line_before_the_messages_own_text_loses_nothing() -> None:
    # A translation patch's `@Sub mess="「…」"` holds the original of the line after it.
    scene = '@nm t=夏生\n@Sub mess="「ふう……」"\n「呼……」[p]\n'
    assert _said(scene) == [("夏生", "「呼……」", None)]


def test_a_name_header_with_the_name_shown_after_a_slash_is_the_first_names() -> None:
    # KAGEX's 【本名/表示名】: アトリ shown as 女の子 before she gives her name.
    text = "【夏生】\n「君の名前は？」[p]\n【アトリ/女の子】\n「アトリと申します」[p]\n"
    found = parse(text, "s.ks", "kirikiri", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [
        ("夏生", "「君の名前は？」"),
        ("アトリ", "「アトリと申します」"),
    ]

"""KiriKiri KAG and TyranoScript scenarios as games write them (fixtures/s45_kag, written
for these tests): code blocks that end mid-line, and the hint a file of undefined name
macros gives."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, kirikiri, parse
from dataprep.pipeline import run_pipeline
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


def _error_for(scripts: list[Path]) -> str | None:
    settings = DataprepSettings(lead_aliases=["悠真"], character_aliases=["汐里"])
    result = run_pipeline(settings, scripts)
    return next((f.error for f in result.files if f.path.endswith("scene01.ks")), None)


def test_no_dialogue_in_a_ks_file_of_undefined_name_macros_asks_for_their_definitions() -> None:
    # `@sio voice=…` and `[yu]` are defined in macro.ks: given scene01.ks alone, every
    # line was narration and the hint said only what KAG lines look like.
    scene = GAME / "kag" / "scene01.ks"
    error = _error_for([scene])
    assert error is not None and error.startswith(f"{scene}: no dialogue found as kirikiri;")
    assert error.endswith(
        ". Its lines follow tags no .ks file given defines ([sio] before 3 lines, [yu] before"
        " 2 lines): if they are macros naming the speaker, give the .ks file that defines"
        " them too ([macro name=sio], usually in first.ks or macro.ks)."
    )
    # With the macros given, the lines are theirs.
    assert _error_for([GAME / "kag" / "macro.ks", scene]) is None


def test_only_unknown_tags_before_unnamed_lines_said_are_taken_for_name_macros() -> None:
    text = (
        "[wait time=100]「……」[p]\n[resetfont]「ねえ」[p]\n"  # the engine's own tags
        "@chara_show name=akane\n「うん」[p]\n@bgm_fade storage=x\n「あ」[p]\n"  # commands
        "@sio\n昔の話だ。[p]\n"  # narration: no name macro before it
        "@atri\n「はい」[p]\n"  # an alias names her
        "@yu\n『おう』[p]\n"
    )
    options = ParseOptions(speaker_aliases=frozenset({"atri"}))
    assert kirikiri.unnamed_calls(text, options) == {"yu": 1}


def test_a_macro_showing_a_name_in_the_name_box_layer_names_the_speaker() -> None:
    # KAG games without `[nm]` write the name into their own message layer from a
    # macro (`[current layer=message1]` `[emb exp="mp.name"]`): its `emb` was dropped
    # as the macro's text, and every line was narration.
    folder = GAME / "kag_namebox"
    texts = [(folder / f).read_text(encoding="utf-8") for f in ("macro.ks", "scene01.ks")]
    names = {key: value for text in texts for key, value in kirikiri.display_names(text).items()}
    said = parse(texts[1], "scene01.ks", "kirikiri", ParseOptions(kirikiri_names=names))
    assert [(u.speaker, u.text) for u in said] == [
        (None, "朝の通学路は、いつもより静かだった。"),
        ("汐里", "「おはよう！\u3000今日は早いね」"),
        ("悠真", "「たまたまだよ」"),  # `[emb exp="f.name"]`: the name the player keeps
        ("汐里", "「ふーん、たまたまね」"),
    ]

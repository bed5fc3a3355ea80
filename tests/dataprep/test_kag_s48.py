"""KiriKiri KAG scenarios (inline fixtures written for these tests): a macro writing the
speaker's name as a `【名】` header into the message itself, tags no file defines after
a click wait, and a header after a click wait on the same line."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, kirikiri, parse


def _said(*files: str) -> list[tuple[str | None, str]]:
    """What the last file says, read with what all of them define, as the pipeline
    reads a game's .ks files."""
    names = {key: value for text in files for key, value in kirikiri.display_names(text).items()}
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text) for u in parse(files[-1], "a.ks", "kirikiri", options)]


@pytest.mark.parametrize(
    ("macro", "call"),
    [
        # Already read on main: `nm` is the reader's own name tag, `name=` its character.
        ('[macro name="nm"]【[emb exp="mp.name"]】[endmacro]', '[nm name="アトリ"]'),
        # The game's own `[nm]` taking another argument than `t=` / `name=`.
        ('[macro name="nm"]【[emb exp="mp.n"]】[endmacro]', "[nm n=アトリ]"),
        ('[macro name="nam"]【[emb exp="mp.name"]】[endmacro]', '[nam name="アトリ"]'),
        ("[macro name=nam]【[emb exp=mp.name]】[endmacro]", "[nam name=アトリ]"),
        ("[macro name=nam]【[emb exp='mp.who']】[r][endmacro]", "[nam who=アトリ]"),
        ('[macro name=nam]\n[cm]\n【[emb exp="mp.name"]】\n[endmacro]', "[nam name=アトリ]"),
        (
            '@macro name=nam\n[font color=0xffcc00]【[emb exp="mp.name"]】[resetfont]\n@endmacro',
            "@nam name=アトリ\n",
        ),
        # A literal name, and `&mp.name` as an attribute's value.
        ("[macro name=atr]【アトリ】[endmacro]", "[atr]"),
        ("[macro name=nam][nm t=&mp.name][endmacro]", "[nam name=アトリ]"),
        ('[macro name=nam][chara_ptext name="&mp.name"][endmacro]', "[nam name=アトリ]"),
    ],
)
def test_a_macro_writing_the_name_as_a_header_names_the_speaker(macro: str, call: str) -> None:
    # The body's text was dropped as the macro's definition: the line was narration.
    direct = "【アトリ】「こんにちは」[p]\n"
    assert _said(direct) == [("アトリ", "「こんにちは」")]
    assert _said(f"{macro}\n{call}「こんにちは」[p]\n") == _said(direct)
    # Defined in macro.ks, called in the scenario.
    assert _said(macro, f"{call}「こんにちは」[p]\n") == _said(direct)


def test_a_header_macro_showing_a_variable_names_the_player() -> None:
    macro = (
        "[iscript]\nf.name = System.inputString('名前', '名前は？', '悠真');\n[endscript]\n"
        '[macro name=me]【[emb exp="f.name"]】[endmacro]\n'
    )
    assert _said(macro, "[me]「よう」[p]\n") == [("悠真", "「よう」")]


def test_only_a_header_leading_a_macros_text_names_the_speaker() -> None:
    macros = (
        "[macro name=note]※【注】[endmacro]\n"  # text before it: no header
        "[macro name=kaisou]【回想】[endmacro]\n"  # a heading names nobody
        "[macro name=se]【voice:atr_0012】[endmacro]\n"  # a voice cue changes no one
    )
    scene = (
        "[nm t=アトリ]「ねえ」[l][note]「ほら」[p]\n"
        "[nm t=アトリ]「うん」[l]\n[kaisou]あの頃は[p]\n"
        "[nm t=アトリ][se]「はい」[p]\n"
    )
    assert _said(macros, scene) == [
        ("アトリ", "「ねえ」"),
        ("アトリ", "「ほら」"),
        ("アトリ", "「うん」"),
        (None, "あの頃は"),
        ("アトリ", "「はい」"),
    ]


@pytest.mark.parametrize(
    "name",
    ["#アトリ\n", "[nm t=アトリ]", "【アトリ】", '[nm t="アトリ"]\n'],
)
@pytest.mark.parametrize(
    "after",
    [
        '[l][ルビ text="なつき"]夏生さん',
        "[l][ルビ]夏生さん",
        '[l]\n[ルビ text="なつき"]夏生さん',
        "[l]\n[ルビ]夏生さん",
        "[l]\n@ルビ text=なつき\n夏生さん",
        "[l]\n@強調\n夏生さん",
    ],
)
def test_a_tag_no_file_defines_after_a_click_wait_is_markup(name: str, after: str) -> None:
    # The tag after `[l]` named a speaker "ルビ": her line went to a character no one is.
    assert _said(f"{name}「ねえ」{after}[p]\n") == [("アトリ", "「ねえ」"), ("アトリ", "夏生さん")]


def test_a_tag_no_file_defines_after_a_click_wait_still_names_a_line_said() -> None:
    # A name macro whose definition was not given, on a page of several speakers.
    scene = "[汐里]「ねえ」[l][r]\n[悠真]「ん？」[l][r]\n[ルビ]夏生さんが振り向いた。[p]\n"
    assert _said(scene) == [
        ("汐里", "「ねえ」"),
        ("悠真", "「ん？」"),
        ("悠真", "夏生さんが振り向いた。"),
    ]


def test_a_ruby_like_tag_with_a_text_attribute_names_nobody() -> None:
    # `text=` is a ruby's reading: no name macro takes it, at a page's start either.
    assert _said('[ルビ text="なつき"]夏生さんが来た。[p]\n') == [(None, "夏生さんが来た。")]


def test_a_header_after_a_click_wait_on_the_same_line_names_its_speaker() -> None:
    # Only a header leading its line was one: `【夏生】「ん？」` was アトリ's text.
    scene = "【アトリ】「ねえ」[l][r]【夏生】「ん？」[l][r]【回想】昔の話だ。[p]\n"
    assert _said(scene) == [("アトリ", "「ねえ」"), ("夏生", "「ん？」"), (None, "昔の話だ。")]

"""KiriKiri KAG scenarios (inline fixtures written for these tests): a macro writing the
speaker's name as a `【名】` header into the message itself."""

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

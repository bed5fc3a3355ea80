"""KiriKiri KAG / TyranoScript scenarios (inline fixtures written for these tests): a
macro that shows the line it is given (`[say text="…"]`, its body `「[emb exp=mp.text]」`)."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, kirikiri, parse


def _said(*files: str) -> list[tuple[str | None, str]]:
    """What the last file says, read with what all of them define, as the pipeline
    reads a game's .ks files."""
    names = {key: value for text in files for key, value in kirikiri.display_names(text).items()}
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text) for u in parse(files[-1], "a.ks", "kirikiri", options)]


_DIRECT = "[nm t=アトリ]「こんにちは」[p]\n[nm t=夏生]「やあ」[p]\n"


@pytest.mark.parametrize(
    ("macro", "calls"),
    [
        # The quote marks in the body; the name set before the call.
        (
            "[macro name=say]「[emb exp=mp.text]」[p][endmacro]",
            '[nm t=アトリ][say text="こんにちは"]\n[nm t=夏生][say text="やあ"]\n',
        ),
        (
            '[macro name=say]「[emb exp="mp.text"]」[p][endmacro]',
            "#アトリ\n[say text=こんにちは]\n#夏生\n[say text=やあ]\n",
        ),
        # The quote marks in the argument; the name in the same macro.
        (
            '[macro name=atr][nm t="アトリ"][emb exp="mp.s"][p][endmacro]\n'
            '[macro name=nat][nm t="夏生"][emb exp="mp.s"][p][endmacro]',
            '[atr s="「こんにちは」"]\n[nat s="「やあ」"]\n',
        ),
        (
            "[macro name=atr]\n#アトリ\n[emb exp=mp.s][p]\n[endmacro]\n"
            "[macro name=nat]\n#夏生\n[emb exp=mp.s][p]\n[endmacro]",
            '[atr s="「こんにちは」"]\n[nat s="「やあ」"]\n',
        ),
        # The name as an argument: `[nm t=%name]`, a `【%name】` header, `&mp.name`.
        (
            '@macro name=say\n[nm t=%name]「[emb exp="mp.text"]」[p]\n@endmacro',
            "@say name=アトリ text=こんにちは\n@say name=夏生 text=やあ\n",
        ),
        (
            "@macro name=say\n【%name】「[emb exp=mp.text]」[p]\n@endmacro",
            "@say name=アトリ text=こんにちは\n@say name=夏生 text=やあ\n",
        ),
        (
            '[macro name=say]\n【[emb exp="mp.name"]】\n「[emb exp="mp.text"]」\n[p]\n[endmacro]',
            '[say name="アトリ" text="こんにちは"]\n[say name="夏生" text="やあ"]\n',
        ),
        (
            "[macro name=say][chara_ptext name=&mp.name][ch text=&mp.text][p][endmacro]",
            '[say name=アトリ text="「こんにちは」"]\n[say name=夏生 text="「やあ」"]\n',
        ),
        (
            "[macro name=say][nm t=%name]「[ch text=%text]」[p][endmacro]",
            "[say name=アトリ text=こんにちは][say name=夏生 text=やあ]\n",
        ),
        # KAG's name box of its own: what the body writes there is no text of the line.
        (
            "[macro name=say][current layer=message1][er]【[emb exp=mp.name]】"
            "[current layer=message0]「[emb exp=mp.text]」[p][endmacro]",
            "[say name=アトリ text=こんにちは]\n[say name=夏生 text=やあ]\n",
        ),
        # A macro calling another, its argument passed on.
        (
            "[macro name=line]「[emb exp=mp.text]」[endmacro]\n"
            "[macro name=atr][nm t=アトリ][line text=%s][p][endmacro]\n"
            "[macro name=nat][nm t=夏生][line text=%s][p][endmacro]",
            "[atr s=こんにちは]\n[nat s=やあ]\n",
        ),
    ],
)
def test_a_macro_showing_its_argument_says_the_line(macro: str, calls: str) -> None:
    # The body's text was only its definition: the lines were lost, no utterance at all.
    assert _said(f"{macro}\n{calls}") == _said(_DIRECT)
    # Defined in macro.ks, called in the scenario.
    assert _said(macro, calls) == _said(_DIRECT)


def test_a_line_shown_by_a_macro_ends_where_the_script_ends_it() -> None:
    macros = "[macro name=say]「[emb exp=mp.text]」[endmacro]\n[macro name=w][emb exp=mp.t][l][endmacro]\n"
    scene = (
        # No wait in the body: the line goes on over line ends to the page's end.
        "[nm t=アトリ][say text=ねえ]\n[say text=聞いてる？][p]\n"
        # The body's `[l]` ends each line.
        "[nm t=夏生][w t=「ん？」][w t=「何？」][p]\n"
    )
    assert _said(macros, scene) == [
        ("アトリ", "「ねえ」「聞いてる？」"),
        ("夏生", "「ん？」"),
        ("夏生", "「何？」"),
    ]


def test_a_macro_showing_its_argument_inside_a_line_is_part_of_it() -> None:
    macros = '[macro name=rb][ruby text="%r"][emb exp=mp.t][endmacro]\n'
    assert _said(macros, "[nm t=アトリ]「[rb r=なつき t=夏生]さん」[p]\n") == [
        ("アトリ", "「夏生さん」")
    ]


def test_a_macro_showing_an_argument_in_a_choice_says_nothing() -> None:
    macros = '[macro name=sel][link target="%target"]「[emb exp=mp.text]」[endlink][r][endmacro]\n'
    scene = (
        "[nm t=アトリ]「どうする？」[l]\n[sel target=*a text=行く][sel target=*b text=行かない]\n"
    )
    assert _said(macros, scene) == [("アトリ", "「どうする？」")]


def test_a_macro_of_fixed_text_is_not_read_at_each_call() -> None:
    # The game's own text (a system message), the same at every call: no line. A mark
    # inside a line is part of what she says, as the player reads it (kag_inline_s48).
    macros = (
        "[macro name=saved]セーブしました[p][endmacro]\n"
        "[macro name=heart]♥[endmacro]\n"
        "[macro name=atr]【アトリ】[endmacro]\n"  # a name macro still names the speaker
    )
    scene = "[saved][atr]「好き[heart]」[p]\n[saved]\n"
    assert _said(macros, scene) == [("アトリ", "「好き♥」")]


def test_a_macro_showing_its_argument_keeps_its_literal_marks() -> None:
    macros = "[macro name=say]「[[[emb exp=mp.text]]」[p][endmacro]\n"
    assert _said(macros, "[nm t=アトリ][say text=注]\n") == [("アトリ", "「[注]」")]


@pytest.mark.parametrize(
    "body",
    ["[emb exp=mp.text]", '[emb exp="mp.text"]', "[ch text=%text]", "[ch text=&mp.text]"],
)
def test_an_argument_of_several_words_is_shown_whole(body: str) -> None:
    macros = f"[macro name=say][nm t=%name]“{body}”[p][endmacro]\n"
    assert _said(macros, '[say name=Atri text="Good morning, Natsuki"]\n') == [
        ("Atri", "“Good morning, Natsuki”")
    ]


def test_an_argument_left_out_shows_its_default() -> None:
    macros = "[macro name=say][nm t=アトリ]「[ch text=%text|……]」[p][endmacro]\n"
    assert _said(macros, "[say]\n[say text=うん]\n") == [
        ("アトリ", "「……」"),
        ("アトリ", "「うん」"),
    ]


@pytest.mark.parametrize(
    "macro",
    [
        "[macro name=n][emb exp=mp.name]：[endmacro]",
        '[macro name=n][emb exp="mp.name"]:[endmacro]',
        "[macro name=n][emb exp=mp.name]：「[emb exp=mp.text]」[p][endmacro]",
    ],
)
def test_an_argument_before_a_colon_names_the_speaker(macro: str) -> None:
    # Shown as text, the name and its colon were narration: `アトリ：「やあ」`.
    call = "[n name=アトリ text=やあ]" + ("" if "mp.text" in macro else "「やあ」[p]")
    assert _said(macro, call + "\n") == [("アトリ", "「やあ」")]

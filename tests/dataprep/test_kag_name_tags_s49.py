"""KAG games naming the speaker with a tag of their own, made in TJS or in a macro file not
given (inline fixtures written for these tests): `[cn name="夏生"]`, `@say name=…`,
`[talk name=… voice=…]` and `[name n=…]`. Every such file was "no dialogue found"."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, kirikiri, parse
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import PrepResult, parse_options, run_pipeline

SETTINGS = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"])
# The exchange every form below writes: the lead asks, the character answers.
EXCHANGE = [["アトリ、何をしてるんだ？", "カニを見ています！"]]


def _files(tmp_path: Path, *texts: str) -> list[Path]:
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"scene{i:02d}.ks"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _run(tmp_path: Path, *texts: str) -> PrepResult:
    return run_pipeline(SETTINGS, _files(tmp_path, *texts))


def _exchanges(result: PrepResult) -> list[list[str]]:
    return [[text for _, text in s.turns] for s in result.train + result.evaluation]


def _said(tmp_path: Path, *texts: str) -> list[tuple[str | None, str]]:
    """What the last file says, read with the options the pipeline gathers from all."""
    scripts, _ = load_scripts(_files(tmp_path, *texts), SETTINGS, None)
    options = parse_options(SETTINGS, scripts)
    return [(u.speaker, u.text) for u in parse(scripts[-1].text, "x.ks", "kirikiri", options)]


@pytest.mark.parametrize(
    "scene",
    [
        # On the line it names.
        '*start\n[cn name="夏生"]「アトリ、何をしてるんだ？」[p]\n'
        '[cn name="アトリ"]「カニを見ています！」[p]\n',
        # An `@` line of its own, the line said below it.
        '*start\n@say name="夏生"\n「アトリ、何をしてるんだ？」[p]\n'
        "@say name=アトリ\n「カニを見ています！」[p]\n",
        # A tag of its own line with a voice, the text below it unquoted.
        '*start\n[talk name="夏生" voice="k001"]\nアトリ、何をしてるんだ？[p]\n'
        '[talk name="アトリ" voice="a001"]\nカニを見ています！[p]\n',
        # `n=`, `who=`, `chara=` likewise.
        "*start\n[cn n=夏生]「アトリ、何をしてるんだ？」[p]\n[cn n=アトリ]「カニを見ています！」[p]\n",
        "*start\n@say who=夏生\n「アトリ、何をしてるんだ？」[p]\n@say who=アトリ\n「カニを見ています！」[p]\n",
        "*start\n[v chara=夏生 face=1]「アトリ、何をしてるんだ？」[p]\n"
        "[v chara=アトリ face=2]「カニを見ています！」[p]\n",
    ],
)
def test_a_games_own_name_tag_names_the_speaker(tmp_path: Path, scene: str) -> None:
    result = _run(tmp_path, scene)
    assert [f.error for f in result.files] == [None]
    assert _exchanges(result) == EXCHANGE


def test_n_is_read_by_the_built_in_name_tags(tmp_path: Path) -> None:
    # As seen in a public game: `[name]` (or `[nm]`) taking the name in `n=`.
    scene = (
        '[name n="Magic Store Owner" f=dorothy_01]「A new magic store has opened!」[k]\n[p]\n'
        "[nm n=夏生]「アトリ、何をしてるんだ？」[p]\n[nm n=アトリ]「カニを見ています！」[p]\n"
    )
    assert _said(tmp_path, scene) == [
        ("Magic Store Owner", "「A new magic store has opened!」"),
        ("夏生", "「アトリ、何をしてるんだ？」"),
        ("アトリ", "「カニを見ています！」"),
    ]


def test_the_games_own_nm_macro_still_takes_n(tmp_path: Path) -> None:
    macro = '[macro name=nm]【[emb exp="mp.n"]】[endmacro]\n'
    assert _said(tmp_path, macro, "[nm n=アトリ]「はい」[p]\n") == [("アトリ", "「はい」")]


def test_a_third_party_named_by_the_tag_ends_the_exchange(tmp_path: Path) -> None:
    scene = (
        '*start\n[cn name="夏生"]「おはよう」[p]\n'
        '[cn name="水菜萌"]「おはよ！」[p]\n'  # hers: the lead's line is not answered
        '[cn name="アトリ"]「おはようございます」[p]\n'
        '[cn name="夏生"]「元気？」[p]\n[cn name="アトリ"]「はい！」[p]\n'
    )
    assert _said(tmp_path, scene)[1] == ("水菜萌", "「おはよ！」")
    assert _exchanges(_run(tmp_path, scene)) == [["元気？", "はい！"]]


def test_an_empty_name_names_nobody(tmp_path: Path) -> None:
    scene = '[cn name="夏生"]「ただいま」[p]\n[cn name=""]\n誰もいない。[p]\n[cn name=アトリ]「はい」[p]\n'
    assert _said(tmp_path, scene) == [
        ("夏生", "「ただいま」"),
        (None, "誰もいない。"),
        ("アトリ", "「はい」"),
    ]


def test_inside_a_line_begun_or_after_a_click_wait_before_text_it_is_no_name(
    tmp_path: Path,
) -> None:
    scene = (
        "[cn name=夏生]「好き[cn name=アトリ]だよ」[p]\n"  # inside the line: no name
        "[cn name=夏生]「ねえ」[l][cn name=アトリ]本当に[p]\n"  # markup before text read on
        "[cn name=夏生]「ねえ」[l]\n[cn name=アトリ]「ん？」[p]\n"  # before a line said: hers
    )
    assert _said(tmp_path, scene) == [
        ("夏生", "「好きだよ」"),
        ("夏生", "「ねえ」"),
        ("夏生", "本当に"),
        ("夏生", "「ねえ」"),
        ("アトリ", "「ん？」"),
    ]


def test_a_tag_learnt_in_one_file_names_lines_in_another(tmp_path: Path) -> None:
    # scene00.ks names アトリ with `[cn]`; scene01.ks only the lead and a third party.
    first = '[cn name="アトリ"]「おはようございます」[p]\n'
    second = '*a\n[cn name="夏生"]「よう」[p]\n[cn name="水菜萌"]「やっほー」[p]\n'
    assert _said(tmp_path, first, second) == [("夏生", "「よう」"), ("水菜萌", "「やっほー」")]
    assert _said(tmp_path, second) == [("夏生", "「よう」"), ("水菜萌", "「やっほー」")]
    # With no alias among its values in any file, it names nobody.
    third = '[cn name="竜司"]「おう」[p]\n[cn name="水菜萌"]「やっほー」[p]\n'
    assert _said(tmp_path, third) == [(None, "「おう」"), (None, "「やっほー」")]


def test_the_games_own_macro_given_still_wins(tmp_path: Path) -> None:
    macro = "[macro name=cn][nm t=アトリ][endmacro]\n"  # whatever its call's name=
    scene = '[cn name="夏生"]「こんにちは」[p]\n'
    assert _said(tmp_path, macro, scene) == [("アトリ", "「こんにちは」")]
    assert _said(tmp_path, scene) == [("夏生", "「こんにちは」")]


@pytest.mark.parametrize(
    "tag",
    [
        "[chara_show name=アトリ]",  # TyranoScript's own: a character's id
        "@chara_show name=アトリ",
        "[anim name=アトリ opacity=0]",
        "[macro name=アトリ][endmacro]",
        "[jump storage=a.ks name=アトリ]",
        "[cn name=アトリ time=500]",  # a command's call
        "@appear name=アトリ height=1200",  # one placing her on the stage
    ],
)
def test_engine_tags_and_commands_name_nobody(tmp_path: Path, tag: str) -> None:
    # `[cn]` is learnt as the game's name tag; the tag before the narration is none.
    scene = f"{tag}\n窓の外は雨だ。[p]\n{tag}\n[cn name=夏生]「雨か」[p]\n"
    scene += "[cn name=アトリ]「はい」[p]\n"
    assert _said(tmp_path, scene) == [
        (None, "窓の外は雨だ。"),
        ("夏生", "「雨か」"),
        ("アトリ", "「はい」"),
    ]


def test_a_tag_showing_a_character_in_a_game_of_nm_is_no_name_tag(tmp_path: Path) -> None:
    # The game names its lines with `[nm]` and shows her with a macro of its own, called
    # less often: the narration after it stays no one's.
    scene = (
        "[nm t=夏生]「どうした？」[p]\n[show name=アトリ face=smile]\nアトリが微笑んだ。[p]\n"
        "[nm t=アトリ]「なんでもないです」[p]\n"
    )
    assert _said(tmp_path, scene) == [
        ("夏生", "「どうした？」"),
        (None, "アトリが微笑んだ。"),
        ("アトリ", "「なんでもないです」"),
    ]


def test_a_name_tag_never_learnt_is_named_in_the_hint(tmp_path: Path) -> None:
    # The game writes アトリ in katakana, the aliases another spelling: nothing is learnt,
    # and "no dialogue found" says which tag and names it gives.
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"])
    scene = (
        '[talk name="夏生" voice="k001"]\nアトリ、何をしてるんだ？[p]\n'
        '[talk name="アトリ" voice="a001"]\nカニを見ています！[p]\n'
        '[talk name="アトリ" voice="a002"]\n「今日は三匹！」[p]\n'
    )
    [path] = _files(tmp_path, scene)
    result = run_pipeline(settings, [path])
    error = result.files[0].error
    assert error is not None and error.startswith(f"{path}: no dialogue found as kirikiri;")
    assert error.endswith(
        ". Its lines follow tags no .ks file given defines that name someone ([talk name=…]"
        " before 3 lines: アトリ, 夏生), but none of their values matched lead_aliases or"
        " character_aliases: if they name the speaker, add the names the game writes to"
        " those aliases, or give the .ks file that defines them too ([macro name=talk],"
        " usually in first.ks or macro.ks)."
    )


def test_the_hint_for_undefined_name_macros_is_unchanged() -> None:
    text = "@sio voice=shi_0001\n「……」[p]\n[chara_show name=akane]\n「うん」[p]\n"
    options = ParseOptions()
    assert kirikiri.unnamed_calls(text, options) == {"sio": 1}
    assert kirikiri.unlearnt_name_calls(text, options) == []

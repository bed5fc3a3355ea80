"""KiriKiri KAG / TyranoScript scenarios (inline fixtures written for these tests): a
macro called inside a line, showing a game variable (the player's name, `[pn]` with a
body `[emb exp=f.name]`) or fixed text (`♥`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.formats import ParseOptions, kirikiri, parse

NAME_SET = '[iscript]\nf.name = "悠真";\n[endscript]\n'
PN = "[macro name=pn][emb exp=f.name][endmacro]\n"


def _said(*files: str) -> list[tuple[str | None, str, str | None]]:
    """What the last file says, read with what all of them define, as the pipeline
    reads a game's .ks files."""
    names = {key: value for text in files for key, value in kirikiri.display_names(text).items()}
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text, u.dropped) for u in parse(files[-1], "a.ks", "kirikiri", options)]


@pytest.mark.parametrize("setting", [NAME_SET, ""])  # no value: a hole, as the tag leaves
@pytest.mark.parametrize(
    "macro",
    [
        PN,
        '[macro name="pn"][emb exp="f.name"][endmacro]\n',
        '@macro name=pn\n[emb exp="f.name"]\n@endmacro\n',
        # A macro calling it, with fixed text of its own.
        PN + "[macro name=pnsan][pn]さん[endmacro]\n",
    ],
)
@pytest.mark.parametrize(
    "scene",
    [
        '[nm t="アトリ"]「おかえりなさい、{pn}」[p]\n',
        "#アトリ\n「ねえ、{pn}」[l]「{pn}ってば」[p]\n",
        "[nm t=アトリ]「えっ……[l]{pn}？」[p]\n",  # a click wait inside a quote ends nothing
    ],
)
def test_a_macro_showing_the_players_name_in_a_line_reads_as_the_tag(
    setting: str, macro: str, scene: str
) -> None:
    # The body showed no call's argument, so it was fixed text, not read:
    # 「おかえりなさい、さん」, a mangled line.
    call = "[pnsan]" if "pnsan" in macro else "[pn]さん"
    direct = _said(setting + scene.replace("{pn}", '[emb exp="f.name"]さん'))
    assert _said(setting + macro, scene.replace("{pn}", call)) == direct
    assert _said(setting + macro + scene.replace("{pn}", call)) == direct
    assert all(("[f.name]" in text) != bool(setting) for _, text, _ in direct)


@pytest.mark.parametrize(
    ("setting", "player"), [(NAME_SET, "悠真"), ("", "&f.name")]
)  # named as a `【[emb exp=f.name]】` header names him
@pytest.mark.parametrize(
    "scene",
    [
        "{pn}「ただいま」[p]\n",
        "{pn}\n「ただいま」[p]\n",  # the name on a line of its own
        "{pn}：「ただいま」[p]\n",  # `名：「…」`
        "[nm t=アトリ]「おかえり」[l]{pn}「ただいま」[p]\n",  # after a click wait
    ],
)
@pytest.mark.parametrize("shown", ["[pn]", "[emb exp=f.name]"])  # by a macro, or written
def test_the_players_name_shown_before_a_line_said_names_him(
    setting: str, player: str, scene: str, shown: str
) -> None:
    said = _said(setting + PN, scene.format(pn=shown))
    assert said[-1] == (player, "「ただいま」", None)
    assert said[-1] == _said(setting + '【[emb exp="f.name"]】「ただいま」[p]\n')[-1]


def test_a_macro_showing_the_players_name_before_other_text_leads_it() -> None:
    scene = "{pn}は振り返った。[p]\n[nm t=アトリ]「{pn}？」[p]\n"
    assert _said(NAME_SET + PN, scene.format(pn="[pn]")) == [
        (None, "悠真は振り返った。", None),
        ("アトリ", "「悠真？」", None),
    ]
    assert _said(PN, scene.format(pn="[pn]")) == _said(scene.format(pn="[emb exp=f.name]"))


def test_name_macros_showing_the_players_name_name_him_as_before() -> None:
    macros = (
        NAME_SET + '[macro name=me]【[emb exp="f.name"]】[endmacro]\n'
        "[macro name=me2][current layer=message1][emb exp=f.name]"
        "[current layer=message0][endmacro]\n"
    )
    scene = "[me]「よう」[p]\n[me2]「おう」[p]\n"
    assert _said(macros, scene) == [("悠真", "「よう」", None), ("悠真", "「おう」", None)]


def test_a_macro_of_fixed_text_inside_a_line_is_part_of_it() -> None:
    # What the player reads: 「好き♥」, 「アトリは？」; these were 「好き」 and 「は？」.
    macros = (
        "[macro name=heart]♥[endmacro]\n"
        "[macro name=red_heart][font color=0xff0000]♥[resetfont][endmacro]\n"
        "[macro name=atr_n]アトリ[endmacro]\n"
    )
    scene = "[nm t=アトリ]「好き[heart][red_heart]」[p]\n[nm t=夏生]「[atr_n]は？」[p]\n"
    assert _said(macros, scene) == [
        ("アトリ", "「好き♥♥」", None),
        ("夏生", "「アトリは？」", None),
    ]


def test_a_macro_of_fixed_text_on_its_own_is_not_read() -> None:
    # Before a message's text, a fixed text is the game's own, not a line of the script;
    # a body ending or waiting on a message (a system message) is none inside a line.
    macros = (
        "[macro name=heart]♥[endmacro]\n"
        "[macro name=saved]セーブしました[p][endmacro]\n"
        "[macro name=title]～第一章～[l][endmacro]\n"
    )
    scene = (
        "[heart][p]\n[title]\n[nm t=アトリ]「あ」[saved]\n[nm t=アトリ]「うん」[title]「よし」[p]\n"
    )
    assert _said(macros, scene) == [
        ("アトリ", "「あ」", None),
        ("アトリ", "「うん」", None),
        ("アトリ", "「よし」", None),
    ]


def test_the_players_name_shown_by_a_macro_is_the_user_in_her_lines(tmp_path: Path) -> None:
    # `[pn]` lost the name: she said "おかえりなさい、さん", and his lines were narration.
    (tmp_path / "macro.ks").write_text(
        NAME_SET
        + PN
        + '[macro name=atr][nm t="アトリ"][endmacro]\n[macro name=heart]♥[endmacro]\n',
        encoding="utf-8",
    )
    (tmp_path / "scene.ks").write_text(
        "*a\n[pn]「ただいま」[p]\n[atr]「おかえりなさい、[pn]さん」[p]\n"
        "[pn]「今日も元気だな」[p]\n[atr]「はい、[pn]さんのおかげです[heart]」[p]\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["悠真"], character_aliases=["Atri", "アトリ"])
    out = tmp_path / "out"
    scripts = [tmp_path / "macro.ks", tmp_path / "scene.ks"]
    console = Console(record=True, width=1000)
    assert (
        run_prep(Settings(root=tmp_path, dataprep=settings), scripts, out, None, "", console) == 0
    )
    last = [
        [(m["from"], m["value"]) for m in row["conversations"][-2:]]
        for path in sorted(out.glob("*_sharegpt*.json"))
        for row in json.loads(path.read_text(encoding="utf-8"))
    ]
    assert sorted(last) == [
        [("human", "ただいま"), ("gpt", "おかえりなさい、{{user}}さん")],
        [("human", "今日も元気だな"), ("gpt", "はい、{{user}}さんのおかげです♥")],
    ]

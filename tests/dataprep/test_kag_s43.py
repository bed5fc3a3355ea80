"""A new user's KiriKiri/TyranoScript game (fixtures/s43_kag, written for these tests):
汐里 talking with a lead whose name the player types into `f.name` (default 悠真), over
TyranoScript and KAG files, one Shift-JIS, one with CRLF line ends."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.formats import ParseOptions, kirikiri, parse
from tests.dataprep.conftest import FIXTURES

GAME = FIXTURES / "s43_kag"
SETTINGS = DataprepSettings(lead_aliases=["悠真"], character_aliases=["Shiori", "汐里"])


def _said(text: str) -> list[tuple[str | None, str, str | None]]:
    options = ParseOptions(kirikiri_names=kirikiri.display_names(text))
    return [(u.speaker, u.text, u.dropped) for u in parse(text, "a.ks", "kirikiri", options)]


def _exchanges(out: Path) -> list[list[tuple[str, str]]]:
    rows = []
    for name in ("shiori_sharegpt.json", "shiori_sharegpt_eval.json"):
        path = out / name
        if path.is_file():
            rows += json.loads(path.read_text(encoding="utf-8"))
    return [[(m["from"], m["value"]) for m in row["conversations"]] for row in rows]


def test_the_game_gives_every_line_she_says_to_the_lead(tmp_path: Path) -> None:
    # Her lines naming the player ([emb exp="f.name"]) were dropped as unresolved, and
    # the lead's `#&f.name` / `@nm t=&f.name` lines credited to "&f.name", a stranger:
    # 1 sample of 9 came out.
    console = Console(record=True, width=1000)
    out = tmp_path / "shiori"
    assert run_prep(Settings(root=tmp_path, dataprep=SETTINGS), [GAME], out, None, "", console) == 0
    said = console.export_text()
    assert "&f.name" not in said and "unresolved" not in said
    rows = _exchanges(out)
    last = sorted(row[-2:] for row in rows)
    assert last == sorted(
        [
            [
                ("human", "いや、まだないな。引っ越してきたばかりだし"),
                (
                    "gpt",
                    "じゃあ、今度案内してあげる！約束だよ？\n……でもね、あの灯台、来月には取り壊されちゃうんだって",
                ),
            ],
            [("human", "そうなのか……"), ("gpt", "明日、どこに行きたい？")],
            [("human", "お前こそ寝坊するなよ"), ("gpt", "し、しないもん！")],
            [("human", "平気だって。悠真様は寒さに強いんだ"), ("gpt", "なにそれ、変なの")],
            [
                ("human", "傘、持ってなくてさ。雨宿り"),
                ("gpt", "傘なら、わたしの貸してあげるよ\n……一本しかないけど①"),
            ],
            [
                ("human", "それって、相合傘ってやつじゃ……"),
                ("gpt", "い、言わないで！\u3000恥ずかしいから……"),
            ],
            [
                ("human", "うわ、高いな……"),
                (
                    "gpt",
                    "ここから見る海が、一番好きなの。小さい頃、おばあちゃんとよく来たんだ\n"
                    "だから、壊される前に……どうしても、誰かと一緒に見たかった",
                ),
            ],
            [("human", "誰かって、俺でよかったのか？"), ("gpt", "……{{user}}くんが、よかったの")],
            [("human", "汐里……"), ("gpt", "えへへ。さ、日が沈む前に上まで登ろう！")],
        ]
    )
    stats = json.loads((out / "shiori_stats.json").read_text(encoding="utf-8"))
    assert [(s["name"], s["role"]) for s in stats["speakers"]] == [
        ("汐里", "character"),
        ("悠真", "lead"),
        ("楓", "other"),
    ]


def test_the_players_name_is_the_lead_where_a_file_gives_its_default() -> None:
    # Tyrano's `[edit name="f.name" initial="悠真"]` in one file, the lines in another.
    names = kirikiri.display_names((GAME / "first.ks").read_text(encoding="utf-8"))
    assert names["&f.name"] == "悠真" and names["shiori"] == "汐里"
    scene = '#shiori\n「ねえ、[emb exp="f.name"]くん」[p]\n#&f.name\n「ん？」[p]'
    found = parse(scene, "s.ks", "kirikiri", ParseOptions(kirikiri_names=names))
    assert [(u.speaker, u.text, u.dropped) for u in found] == [
        ("汐里", "「ねえ、悠真くん」", None),
        ("悠真", "「ん？」", None),
    ]


@pytest.mark.parametrize(
    "setting",
    [
        '[iscript]\nf.name = "悠真";\n[endscript]',
        "[eval exp=\"f.name='悠真'\"]",
        '@edit name="f.name" initial="悠真"',
        '[iscript]\nf.name = System.inputString("名前", "名前を入力してください", "悠真");\n'
        "[endscript]",
    ],
)
def test_a_variable_given_one_string_names_the_speaker_and_fills_the_line(setting: str) -> None:
    text = (
        f"{setting}\n@nm t=&f.name\n「よろしく」[p]\n"
        '【汐里】「[emb exp="f.name"]くん！」[p]\n【[emb exp="f.name"]】「おう」[p]'
    )
    assert _said(text) == [
        ("悠真", "「よろしく」", None),
        ("汐里", "「悠真くん！」", None),
        ("悠真", "「おう」", None),
    ]


@pytest.mark.parametrize(
    "setting",
    [
        "",  # the player types it, no default anywhere
        "[eval exp=\"f.name='悠真'\"]\n[eval exp=\"f.name='ユウ'\"]",  # which one?
        '[iscript]\nif (f.name === "悠真") tf.x = 1;\n[endscript]',  # a comparison
    ],
)
def test_a_variable_with_no_single_string_still_leaves_a_hole(setting: str) -> None:
    text = f'{setting}\n#汐里\n「[emb exp="f.name"]くん」[p]\n【[emb exp="f.name"]】「おう」[p]'
    assert _said(text) == [
        ("汐里", "「[f.name]くん」", "unresolved_variable"),  # named, as a Ren'Py [var] is
        ("&f.name", "「おう」", None),
    ]


def test_the_run_names_the_variable_of_the_lines_it_dropped(tmp_path: Path) -> None:
    # Without first.ks, which sets f.name, her lines with [emb exp="f.name"] are dropped:
    # the run said only "unresolved_variable = 4", naming nothing to look for.
    console = Console(record=True, width=1000)
    scenes = [GAME / "scene01.ks", GAME / "scene03.ks"]
    settings = Settings(root=tmp_path, dataprep=SETTINGS)
    assert run_prep(settings, scenes, tmp_path / "out", None, "", console) == 0
    said = " ".join(console.export_text().split())
    assert "[f.name] in 4 lines" in said
    # What settles it is a .ks file, not the Ren'Py `define` the sentence used to advise.
    assert "Giving the .ks file that sets it" in said
    assert "define" not in said
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.json*"))
    assert "f.name]" not in written


def test_a_click_wait_inside_a_quote_keeps_the_line_whole() -> None:
    # `「えっ……[l]うそ、本当に？」` was cut at [l], and "えっ……" then dropped as a line
    # of only a sound: she answered "うそ、本当に？".
    text = (
        "*a|一\n#悠真\n「灯台、取り壊されるんだってさ」[p]\n"
        "#汐里\n「えっ……[l]\n　うそ、本当に？」[p]\n"
        "「そっか……[l]寂しくなるね」[l][r]「でも、ありがと」[p]\n"
    )
    assert _said(text) == [
        ("悠真", "「灯台、取り壊されるんだってさ」", None),
        ("汐里", "「えっ……うそ、本当に？」", None),
        ("汐里", "「そっか……寂しくなるね」", None),  # the quote closed: [l] ends it
        ("汐里", "「でも、ありがと」", None),
    ]


def test_a_script_block_on_one_line_ends_there() -> None:
    # `[iscript]…[endscript]` on one line opened a block that no line closed: every line
    # after it, to the end of the file, was skipped as code.
    text = "[iscript]f.visits = 1;[endscript]\n#汐里\n「消えないで」[p]"
    assert _said(text) == [("汐里", "「消えないで」", None)]


def test_tyranoscript_html_is_no_line() -> None:
    # `[html]…[endhtml]` (a TyranoScript page element) was read as narration.
    text = (
        '[html top=100]\n<div class="menu">\n<p>メニュー</p>\n</div>\n[endhtml]\n#汐里\n「次」[p]'
    )
    assert _said(text) == [("汐里", "「次」", None)]


def test_kag_ch_shows_its_text() -> None:
    # KAG's `[ch text="あ"]` puts its text in the message; it was dropped as any tag.
    assert _said('@nm t="汐里"\n「[ch text="あ"]のね」[p]') == [("汐里", "「あのね」", None)]


@pytest.mark.parametrize(
    "line",
    [
        "「好きなの。[r]　小さい頃、よく来たんだ」[p]",  # indented after [r]
        "「好きなの。[l][r]　小さい頃、よく来たんだ」[p]",
        "「好きなの。[r]\n　小さい頃、よく来たんだ」[p]",  # as it was read already
    ],
)
def test_the_indent_after_a_line_break_is_no_space(line: str) -> None:
    # A full-width space indenting the next line on screen stayed in the line, and the
    # cleaning made it an ASCII space: "好きなの。 小さい頃".
    assert _said(f"#汐里\n{line}") == [("汐里", "「好きなの。小さい頃、よく来たんだ」", None)]


def test_many_click_waits_in_one_open_quote_take_linear_time() -> None:
    # Each [l] joined the message so far to look for an open quote: 30,000 of them in
    # one quote took seconds (100,000 took two minutes).
    text = "#汐里\n「" + "あ[l]" * 30_000 + "」[p]\n"
    started = time.perf_counter()
    assert _said(text) == [("汐里", "「" + "あ" * 30_000 + "」", None)]
    assert time.perf_counter() - started < 3

"""KiriKiri KAG and TyranoScript scenarios as games write them (fixtures/s44_kag, written
for these tests): name macros (`@汐里`, `[汐里 voice=…]`) and other macros' waits,
TyranoScript's escapes, where its tags end, and its name box over pages and labels."""

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

GAME = FIXTURES / "s44_kag"
SETTINGS = DataprepSettings(lead_aliases=["悠真"], character_aliases=["Shiori", "汐里"])


def _said(text: str) -> list[tuple[str | None, str]]:
    options = ParseOptions(kirikiri_names=kirikiri.display_names(text))
    return [(u.speaker, u.text) for u in parse(text, "a.ks", "kirikiri", options)]


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("「あ、やっと来た！\\[遅刻\\]だよ！」[p]", "「あ、やっと来た！[遅刻]だよ！」"),
        ("「顔文字？　こういうの→ (\\^o\\^)/」[p]", "「顔文字？　こういうの→ (^o^)/」"),
        ("\\*これは注意書きではありません。[p]", "*これは注意書きではありません。"),
        ("\\#ハッシュタグ、なんてね。[p]", "#ハッシュタグ、なんてね。"),
        ("「斜め線は\\\\、こう書くの」[p]", "「斜め線は\\、こう書くの」"),
        # A Shift-JIS yen sign decodes as a backslash: no escape before a digit.
        ("「全部で\\1000だよ」[p]", "「全部で\\1000だよ」"),
    ],
)
def test_a_tyranoscript_escape_shows_the_mark_without_its_backslash(line: str, shown: str) -> None:
    # `\]` kept its backslash ("[遅刻\]"), and `\*` / `\#` at a line's start showed theirs.
    assert _said(f"#汐里\n{line}") == [("汐里", shown)]


def _game(folder: Path) -> list[tuple[str | None, str]]:
    """What the game's .ks files say, each read with what all of them define, as the
    pipeline reads them."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.ks"))]
    names: dict[str, str] = {}
    for text in texts:
        names.update(kirikiri.display_names(text))
    options = ParseOptions(kirikiri_names=names)
    return [(u.speaker, u.text) for t in texts for u in parse(t, "a.ks", "kirikiri", options)]


def test_a_kag_name_macro_names_the_speaker_of_the_line_after_it() -> None:
    # `@汐里 voice=shi_0001` and `[汐里 voice=…]「…」` were read as tags doing nothing:
    # every line of the scene was narration.
    assert _game(GAME / "kag") == [
        (None, "夕暮れの教室には、もう誰も残っていなかった。"),
        ("汐里", "「ねえ、今日の放課後、ひま？」"),
        ("悠真", "「まあ、ひまだけど。なんで？」"),
        ("汐里", "「灯台に行こうよ！　来月には取り壊されちゃうんだって」"),
        ("楓", "「わたしも行っていい？」"),
        ("汐里", "「もちろん！　三人で行こう」"),  # `[ハート]` inside the text names nobody
        ("店員", "「いらっしゃいませー」"),  # `@nm t=%n|？？？` given n=店員
        ("？？？", "「……」"),  # and its default
        # `@暗転` is defined and names nobody; `[回想]` is a heading
        (None, "小さい頃、おばあちゃんと一緒にあの坂を登った。"),
    ]


def test_the_run_pairs_the_lines_of_a_game_of_name_macros(tmp_path: Path) -> None:
    # The name macros are in macro.ks, the lines in scene01.ks: no sample came out.
    console = Console(record=True, width=1000)
    out = tmp_path / "shiori"
    assert (
        run_prep(Settings(root=tmp_path, dataprep=SETTINGS), [GAME / "kag"], out, None, "", console)
        == 0
    )
    rows = json.loads((out / "shiori_sharegpt.json").read_text(encoding="utf-8"))
    assert [[(m["from"], m["value"]) for m in row["conversations"][-2:]] for row in rows] == [
        [
            ("human", "まあ、ひまだけど。なんで？"),
            ("gpt", "灯台に行こうよ！\u3000来月には取り壊されちゃうんだって"),
        ]
    ]
    assert "macro.ks" not in console.export_text()  # a file of macros is no failure


def test_a_macro_named_nowhere_names_the_speaker_only_before_the_text() -> None:
    # No file given defines them (macro.ks left out): a tag whose name no tag has.
    text = (
        "@汐里\n「おはよう」[p]\n"
        "[悠真 voice=yu_0001]「おう、おはよう」[p]\n"
        "@汐里\n「今日も[ハート]いい天気[キラ]だね」[p]\n"
        "[回想]\n[選択肢]\n昔の話だ。[p]\n"
        "@シーン回想開始 storage=scene05.ks target=*start\n[暗転 time=500]\nその夜のこと。[p]\n"
    )
    assert _said(text) == [
        ("汐里", "「おはよう」"),
        ("悠真", "「おう、おはよう」"),
        ("汐里", "「今日もいい天気だね」"),
        (None, "昔の話だ。"),
        (None, "その夜のこと。"),  # commands, by their attributes
    ]


def test_a_tyranoscript_macro_of_a_sharp_line_names_her_where_it_is_called() -> None:
    # `[macro name="しおり"]` / `#shiori` / `[endmacro]`: the `#` line in the body named
    # her at the definition, and `[しおり]` did nothing.
    text = (
        '[macro name="しおり"]\n#汐里\n[endmacro]\n地の文。[p]\n[しおり]\n「うん」[p]\n地の文。[p]'
    )
    assert _said(text) == [(None, "地の文。"), ("汐里", "「うん」"), ("汐里", "地の文。")]


def test_a_tyranoscript_game_reads_as_it_plays() -> None:
    assert _game(GAME / "tyrano") == [
        (None, "坂の上から、潮の匂いがした。"),
        ("汐里", "「あ、やっと来た！[遅刻]だよ、遅刻！」"),  # `\[遅刻\]`
        ("悠真", "「悪い悪い。坂がきつくてさ」"),
        ("汐里", "「もう……。ほら、あれが灯台。ここから見るのが、一番きれいなんだ」"),  # [しおり]
        (None, "二人はしばらく、黙って海を眺めていた。"),
        ("悠真", "「顔文字？　こういうのか→ (^o^)/」"),
        ("汐里", "「ちがーう！……なんてね」"),
        ("悠真", "「おーい！」"),
        ("汐里", "「ねえ、灯台まで競争しない？」"),
        # After the choice's labels her name box still shows her: these were narration.
        ("汐里", "「よーい、どん！」"),
        ("汐里", "「えー、つまんないの」"),
        ("汐里", "「……また明日も、来てくれる？」"),
    ]


def test_an_alias_called_as_a_command_names_the_speaker() -> None:
    # `@atri` (or `[atri voice=…]`), defined in no file given, is her name.
    aliases = frozenset({"atri", "natsuki"})
    text = "@atri voice=atr_0001\nおはようございます、夏生さん！[p]\n[natsuki]おはよう。[p]\n@bg storage=room\n「……」[p]"
    found = parse(text, "a.ks", "kirikiri", ParseOptions(speaker_aliases=aliases))
    assert [(u.speaker, u.text) for u in found] == [
        ("atri", "おはようございます、夏生さん！"),
        ("natsuki", "おはよう。"),
        (None, "「……」"),
    ]


@pytest.mark.parametrize(
    "tag",
    [
        "[if exp=f.love[0]>=10]",  # an array's index, no quotes
        "[eval exp=f.route[f.day[1]]='sea']",  # two deep
        "[ptext layer=1 x=10 y=10 text=`a]b`]",  # TyranoScript's third quote
        '[eval exp="f.a = 1"  ]',
    ],
)
def test_a_tag_ends_where_tyranoscript_ends_it(tag: str) -> None:
    # The tag ended at the first "]": ">=10]" (or "b`]") was said before her line.
    assert _said(f"#汐里\n{tag}「今日も会えてうれしいな」[p]") == [
        ("汐里", "「今日も会えてうれしいな」")
    ]


def test_a_tag_never_closed_takes_linear_time() -> None:
    # Before a `【名】` header, a tag is read only when it closes: a regex that could read
    # `=""` two ways tried every split of a line of them (exponential). The tag that never
    # closes is the rest of its line, as in TyranoScript.
    line = "[eval exp" + '=""' * 30 + "【汐里】「い」"
    started = time.perf_counter()
    assert _said(f"#汐里\n{line}\n「う」[p]") == [("汐里", "「う」")]
    assert time.perf_counter() - started < 3


def test_chara_ptext_names_her_until_the_next_as_a_sharp_line_does() -> None:
    # `[chara_ptext name="shiori"]` is what `#shiori` stands for, but it named her for one
    # page only: "「聞いてる？」" after its [p] was narration.
    text = (
        '[chara_new name="shiori" storage="chara/shiori/normal.png" jname="汐里"]\n'
        '[chara_ptext name="shiori"]\n「ねえ」[p]\n「聞いてる？」[p]\n[cm]\n「もう！」[p]\n'
        "[chara_ptext]\n風が吹いた。[p]\n"
    )
    assert _said(text) == [
        ("汐里", "「ねえ」"),
        ("汐里", "「聞いてる？」"),
        ("汐里", "「もう！」"),
        (None, "風が吹いた。"),
    ]


def test_a_macro_ending_in_a_wait_ends_the_line_where_it_is_called() -> None:
    # `[n]` (`@p` `@cm`) and `[sl]` (`[stopse][l]`) did nothing: the whole scene was one
    # line of hers, narration included.
    text = (
        "@macro name=n\n@p\n@cm\n@endmacro\n[macro name=sl][stopse][l][endmacro]\n*a\n"
        '@nm t="汐里"\n「ねえ」[n]\n夕焼けがきれいだった。[sl]\n海も光っていた。[n]\n'
    )
    assert _said(text) == [
        ("汐里", "「ねえ」"),
        (None, "夕焼けがきれいだった。"),
        (None, "海も光っていた。"),
    ]


def test_a_name_macro_may_call_another_macro() -> None:
    # A generic name macro, called by one per character; one calling itself stops.
    text = (
        "[macro name=name_box][nm t=%n][endmacro]\n"
        "[macro name=汐里][name_box n=汐里][endmacro]\n"
        "[macro name=loop][loop][endmacro]\n"
        "[macro name=楓]\n[iscript]\ntf.names = ['楓'];\n[endscript]\n[nm t=楓]\n[endmacro]\n"
        "[汐里]「ねえ」[p]\n[loop]「……」[p]\n[楓]「なに？」[p]\n"
    )
    assert _said(text) == [("汐里", "「ねえ」"), (None, "「……」"), ("楓", "「なに？」")]


def test_kag_hch_shows_its_text() -> None:
    # `[hch text=12]` (縦中横, in vertical writing) was dropped as any tag: "月日に".
    text = "@nm t=汐里\n「[hch text=12]月[hch text='31' expand]日に、また来ようね」[p]"
    assert _said(text) == [("汐里", "「12月31日に、また来ようね」")]

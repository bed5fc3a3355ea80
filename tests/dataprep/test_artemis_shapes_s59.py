"""Session 59: the Artemis `.ast` reader (dataprep/formats/artemis.py) against the
shapes public tools that read real games' scripts were written for: msg-tool's
`scripts/artemis/ast`, VNTextPatch's `ArtemisAstScript` (its `astver`-less "V1"), a
Select Oblige importer's name slots, a Sakura no Toki voice extractor's older layout.
The dialogue below is made up; only the shapes are theirs."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats.artemis import parse
from dataprep.formats.common import ParseOptions
from dataprep.pipeline import run_pipeline
from dataprep.speakers import normalise_name


def _options(*aliases: str, language: str | None = None) -> ParseOptions:
    return ParseOptions(
        speaker_aliases=frozenset(normalise_name(a) for a in aliases), artemis_language=language
    )


def _read(text: str, options: ParseOptions) -> list[tuple[str | None, str, str, int]]:
    return [(u.speaker, u.text, u.scene, u.branch) for u in parse(text, "a.ast", options)]


def test_an_id_in_the_first_name_slot_is_not_the_speaker() -> None:
    # A Select Oblige importer's: `name = {<the engine's id>, <the name shown>}`.
    text = """astver = 2.0
ast = {
\tblock_00000 = {
\t\t{"text"},
\t\ttext = { ja = {
\t\t\t{ name = {"kan_a", "少女"}, "「こんにちは」", {"rt2"} },
\t\t\t{ name = {"rei_b", "？？？"}, "「誰？」", {"rt2"} },
\t\t\t{ name = {"麗華", "？？？"}, "「わたしよ」", {"rt2"} },
\t\t} },
\t},
}
"""
    assert [s for s, *_ in _read(text, _options())] == [
        "少女",
        "？？？",  # no name but the id's: the one shown
        "麗華",  # who speaks, though the box shows ？？？
    ]


def test_txruby_keeps_the_words_it_opens_and_closes_around() -> None:
    # `{"txruby", text=<furigana>}` … `{"txruby"}`: the same tag both ends.
    text = """ast = { block_00000 = { text = { ja = { {
\t"わたしは",
\t{"txruby", text="かなえ"},
\t"叶",
\t{"txruby"},
\t"です。",
\t{"rt2"},
} } } } }
"""
    assert _read(text, _options()) == [(None, "わたしは叶です。", "0", 0)]


def test_a_chinese_port_with_a_comment_above_and_a_pagebreak() -> None:
    # A port (水仙) keeps its Chinese under `ja`, with `pagebreak = true` beside it.
    text = """------------checked---------
astver = 2.0
astname = "ast"
ast = {
    block_00000 = {
        {"savetitle", text="1-0"},
        {"text"},
        text = {
            pagebreak = true,
            vo = {{"vo", ch="li", file="n002"},},
            ja = {{"「从小身体就不好…」"},},
        },
        linknext = "block_00001",
        line = 98
    },
    block_00001 = {
        {"text"},
        text = { pagebreak = true, ja = {{"上了小学，\\n也晒黑过。"},}, },
        line = 104
    },
    label = { top = { block="block_00000", label=1 }, },
}
"""
    assert [t for _, t, *_ in _read(text, _options())] == [
        "「从小身体就不好…」",
        "上了小学，也晒黑过。",
    ]


def test_a_voice_names_the_speaker_where_the_game_shows_no_names() -> None:
    # The same port shows no names at all: only a voice's `ch` says who speaks, and it
    # is an id, so it counts where it is one of the aliases.
    text = """astver = 2.0
ast = {
    block_00000 = { text = { vo = {{"vo", ch="se", file="s001"},}, ja = {{"「海が見たい」"},}, }, },
    block_00001 = { text = { vo = {{"vo", ch="mb", file="m001"},}, ja = {{"「またね」"},}, }, },
    block_00002 = { text = { ja = {{"窓の外は雪だった。"},}, }, },
    block_00003 = { text = { vo = {{"vo", ch="se", file="s002"},},
        ja = {{"「うん」"}, {"彼女は笑った。"},}, }, },
}
"""
    assert [s for s, *_ in _read(text, _options("se"))] == [
        "se",
        None,  # a voice whose id is no alias
        None,
        None,  # two boxes and one voice: which box it speaks is not said
        None,
    ]
    assert [s for s, *_ in _read(text, _options())] == [None] * 5


# The older layout (msg-tool's "old version"): no `label.top`; the blocks, not keyed,
# hold commands only, `{"text"}` or `{"select"}` where one shows the next entry of the
# one `text` table, keyed [1]…[n]. The name is the entry's, `{"name", name=…}`.
OLDER = """ast = {
\t{ {"savetitle", text="序章"}, {"bg", file="bg01"}, {"text"}, },
\t{ {"fg", file="atr01"}, {"text"}, },
\t{ {"select"}, },
\t{ {"text"}, },
\t{ {"savetitle", text="一章"}, {"text"}, },
\ttext = {
\t\t[1] = {
\t\t\tvo = { {"vo", file="v_nat0001", ch="nat"}, },
\t\t\tname = {"name", name="夏生"},
\t\t\tja = { { "「おい、", {"rt2"}, "起きてるか？」", {"rt2"} }, },
\t\t\ten = { { "\\"Hey, ", {"rt2"}, "are you up?\\"", {"rt2"} }, },
\t\t},
\t\t[2] = {
\t\t\tname = {"name", name="アトリ", en="Atri"},
\t\t\tja = { { "「はい、起きています！」", {"rt2"} }, },
\t\t\ten = { { "\\"Yes, I'm up!\\"", {"rt2"} }, },
\t\t},
\t\t[3] = { select = { ja = {"海へ", "家へ"}, en = {"To the sea", "Home"} } },
\t\t[4] = {
\t\t\tja = { { "波の音がした。", {"rt2"} }, },
\t\t\ten = { { "The waves sounded.", {"rt2"} }, },
\t\t},
\t\t[5] = {
\t\t\tja = { name = {"name", name="アトリ"}, { "「朝です。」", {"rt2"} }, },
\t\t\ten = { name = {"name", name="Atri"}, { "\\"Morning.\\"", {"rt2"} }, },
\t\t},
\t},
}
"""


def test_the_older_layout_is_read_entry_by_entry() -> None:
    assert _read(OLDER, _options("夏生", "アトリ")) == [
        ("夏生", "「おい、起きてるか？」", "0", 0),
        ("アトリ", "「はい、起きています！」", "0", 0),
        # The select entry ends the exchange; the block that names a title starts a scene.
        (None, "波の音がした。", "0", 1),
        ("アトリ", "「朝です。」", "1", 1),  # a name inside the language's table
    ]


def test_the_older_layouts_language_and_its_names() -> None:
    said = _read(OLDER, _options("Atri", language="en"))
    assert [(s, t) for s, t, *_ in said] == [
        ("夏生", '"Hey, are you up?"'),  # a name with no `en` key: its `name`
        ("Atri", '"Yes, I\'m up!"'),
        (None, "The waves sounded."),
        ("Atri", '"Morning."'),
    ]
    # "auto" reads the language the aliases speak in.
    assert [s for s, *_ in _read(OLDER, _options("Atri"))][1] == "Atri"


def test_the_older_layout_with_no_language() -> None:
    # VNTextPatch's V1: each entry holds its one box itself, its name `{name=…}`, and a
    # select its choices as they are.
    text = """ast = {
  [1] = { {"text"} },
  [2] = { {"text"} },
  [3] = { {"select"} },
  [4] = { {"text"} },
  text = {
    [1] = { name = {name = "夏生"}, { "「腹、減ったな」", {"rt2"} } },
    [2] = { name = {name = "アトリ"}, { "「カニです！」", {"rt2"} } },
    [3] = { select = {"食べる", "食べない"} },
    [4] = { name = {name = "アトリ"}, { "「おいしい」", {"rt2"} } },
  },
}
"""
    expected = [
        ("夏生", "「腹、減ったな」", "0", 0),
        ("アトリ", "「カニです！」", "0", 0),
        ("アトリ", "「おいしい」", "0", 1),
    ]
    assert _read(text, _options()) == expected
    # Its text is in no language's table: any language asked for reads it.
    assert _read(text, _options(language="ja")) == expected


def test_the_older_layout_written_compact_its_words_right_in_the_language() -> None:
    # A Sakura no Toki extractor's: `key={` with no blanks, the name beside `vo`, and
    # `ja={` holding the words of its one box.
    text = (
        'ast={\n{\n{"text"},\n},\n{\n{"text"},\n},\ntext={\n[1]={\nvo={\n'
        '{"vo",file="sak_0001",ch="sak"},\n},\nname={"櫻子"},\nja={\n"「先生、",\n'
        '{"rt2"},\n"おはようございます」",\n{"rt2"},\n},\n},\n[2]={\nja={\n'
        '"風が吹いた。",\n{"rt2"},\n},\n},\n},\n}\n'
    )
    assert _read(text, _options()) == [
        ("櫻子", "「先生、おはようございます」", "0", 0),
        (None, "風が吹いた。", "0", 0),
    ]


def test_prep_pairs_the_lead_and_her_in_an_older_layout(tmp_path: Path) -> None:
    script = tmp_path / "00_prologue.ast"
    script.write_text(OLDER, encoding="utf-8")
    result = run_pipeline(
        DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"]), [script]
    )
    assert not result.errors, result.errors
    samples = [[t for _, t in s.turns] for s in result.train + result.evaluation]
    assert samples == [["おい、起きてるか？", "はい、起きています！"]]

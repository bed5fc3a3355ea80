"""Session 59: Artemis engine `.ast` scripts (the engine ATRI -My Dear Moments- runs on)
are read as a format of their own (dataprep/formats/artemis.py), not only pointed at
VNTextPatch. The scripts below have the shape real games' do: a Lua table of blocks,
commands beside each block's `text = {vo = …, ja = {…}}`, `{"rt2"}` row ends, ruby,
`delay = {[1000] = …}`, two name slots, a `select`, and a port's `cn` beside `ja`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.formats import detect_format_why
from dataprep.formats.artemis import parse
from dataprep.formats.common import ParseOptions
from dataprep.pipeline import run_pipeline
from dataprep.speakers import normalise_name

CHAPTER = """astver = 2.0
astname = "chapter01"
-- a comment, and a --[[ long
-- ]] one below
--[[ not said: ]]
ast = {
\tblock_00000 = {
\t\t{"savetitle", text="第Ⅰ章"},
\t\t{"bg", file="bg004a", path=":bg/", sync=0, x=-230, lv=2.2},
\t\t{"bgm", file="bgm06"},
\t\tdelay = { [1000] = { {"se", id=1, file="se0148"}, }, },
\t\ttext = {
\t\t\tvo = { {"vo", file="fem_atr_00001", ch="atr"}, },
\t\t\tja = {
\t\t\t\t{
\t\t\t\t\tname = {"夏生"},
\t\t\t\t\t"「お前、",
\t\t\t\t\t{"ruby", text="ロボット"},
\t\t\t\t\t"機械",
\t\t\t\t\t{"/ruby"},
\t\t\t\t\t"なのか？」",
\t\t\t\t\t{"rt2"},
\t\t\t\t},
\t\t\t},
\t\t\tcn = { { name = {"夏生"}, "「你是机器人吗？」", {"rt2"} }, },
\t\t},
\t\tlinknext = "block_00001",
\t\tline = 12,
\t},
\tblock_00001 = {
\t\t{"fg", ch="アトリ", file="atr_a0010", x=0},
\t\ttext = {
\t\t\tja = {
\t\t\t\t{
\t\t\t\t\tname = {"アトリ", "？？？"},
\t\t\t\t\t"「はい。",
\t\t\t\t\t{"rt2"},
\t\t\t\t\t"わたしは\\"高性能\\"ですから！」",
\t\t\t\t\t{"exfont", size=40},
\t\t\t\t\t{"rt2"},
\t\t\t\t},
\t\t\t},
\t\t\tcn = { { name = {"亚托莉", "？？？"}, "「是的。\\n我可是高性能的！」", {"rt2"} }, },
\t\t},
\t\tlinkback = "block_00000",
\t\tlinknext = "block_00002",
\t},
\tblock_00002 = {
\t\ttext = {
\t\t\tja = { { "波の音が聞こえる。" }, },
\t\t\tcn = { { [[海浪的声音传来。]] }, },
\t\t},
\t},
\tblock_00003 = {
\t\ttext = {
\t\t\tja = { { name = {"夏生"}, "「腹、減ってないか？」" }, },
\t\t\tcn = { { name = {"夏生"}, "「肚子饿了吗？」" }, },
\t\t},
\t\tselect = { ja = {"海へ行く", "家に帰る"}, cn = {"去海边", "回家"} },
\t},
\tblock_00004 = {
\t\ttext = {
\t\t\tja = { { name = {"アトリ"}, "「カニが食べたいです！」" }, },
\t\t\tcn = { { name = {"亚托莉"}, "「我想吃螃蟹！」" }, },
\t\t},
\t},
\tblock_00005 = {
\t\t{"savetitle", text="第Ⅱ章"},
\t\ttext = {
\t\t\tja = { { name = {"夏生"}, "「おはよう。」" }, { name = {"アトリ"}, "「おはようございます、夏生さん！」" }, },
\t\t\tcn = { { name = {"夏生"}, "「早上好。」" }, { name = {"亚托莉"}, "「早上好，夏生先生！」" }, },
\t\t},
\t},
\tlabel = { top = { block = "block_00000", label=1 }, },
}
"""

JAPANESE = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"])
CHINESE = DataprepSettings(lead_aliases=["夏生"], character_aliases=["亚托莉"])


def _options(*aliases: str, language: str | None = None) -> ParseOptions:
    return ParseOptions(
        speaker_aliases=frozenset(normalise_name(a) for a in aliases), artemis_language=language
    )


def _said(text: str, options: ParseOptions) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(text, "a.ast", options)]


def _exchanges(settings: DataprepSettings, *paths: Path) -> list[list[str]]:
    result = run_pipeline(settings, list(paths))
    assert not result.errors, result.errors
    return sorted([text for _, text in sample.turns] for sample in result.train + result.evaluation)


def test_the_boxes_are_read_as_lines_with_their_speakers() -> None:
    said = _said(CHAPTER, _options("夏生", "アトリ"))
    assert said == [
        ("夏生", "「お前、機械なのか？」"),  # ruby's furigana left out, its base kept
        ("アトリ", '「はい。わたしは"高性能"ですから！」'),  # rows joined, \" read
        (None, "波の音が聞こえる。"),  # no name: narration
        ("夏生", "「腹、減ってないか？」"),
        ("アトリ", "「カニが食べたいです！」"),
        ("夏生", "「おはよう。」"),
        ("アトリ", "「おはようございます、夏生さん！」"),
    ]


def test_lines_scenes_and_the_choice_that_ends_an_exchange() -> None:
    lines = parse(CHAPTER, "a.ast", _options("夏生", "アトリ"))
    # Each box's line is that of its opening brace.
    rows = CHAPTER.splitlines()
    assert [u.line for u in lines] == [15, 34, 50, 56, 63, 70, 70]
    assert rows[14].strip() == rows[33].strip() == "{"
    assert "夏生" in rows[55] and "カニ" in rows[62] and "おはよう。" in rows[69]
    # The second savetitle starts a scene; the select ends the branch it is in.
    assert [u.scene for u in lines] == ["0"] * 5 + ["1"] * 2
    assert [u.branch for u in lines] == [0, 0, 0, 0, 1, 1, 1]
    assert all(u.shown for u in lines)


def test_auto_reads_the_language_the_aliases_speak_in() -> None:
    chinese = _said(CHAPTER, _options("夏生", "亚托莉"))
    assert chinese[:3] == [
        ("夏生", "「你是机器人吗？」"),
        ("亚托莉", "「是的。我可是高性能的！」"),  # `\n` is a row end, as {"rt2"}
        (None, "海浪的声音传来。"),  # a [[long string]]
    ]
    # Aliases of neither language's names: the first language.
    assert _said(CHAPTER, _options("Natsuki"))[0] == ("夏生", "「お前、機械なのか？」")


def test_a_language_forced_is_read_and_one_missing_is_named() -> None:
    assert _said(CHAPTER, _options("夏生", "アトリ", language="cn"))[1][0] == "亚托莉"
    with pytest.raises(DataprepError) as caught:
        parse(CHAPTER, "a.ast", _options(language="en"))
    message = str(caught.value)
    assert 'has no "en" text ([dataprep] artemis_language)' in message
    assert "its languages are ja, cn" in message


def test_the_name_slot_that_is_an_alias_speaks() -> None:
    text = """ast = {
      block_00000 = { text = { ja = {
        { name = {"？？？", "アトリ"}, "「こんにちは」" },
        { name = {"？？？"}, "「誰？」" },
        { name = {"少女", "アトリ"}, "「わたしです」" },
        { name = {"？？？", "少女"}, "「ふふ」" },
        { name = {ja = "水菜萌", name = "Minamo"}, "「おーい」" },
      } } },
    }"""
    assert [s for s, _ in _said(text, _options("アトリ"))] == [
        "アトリ",
        "？？？",
        "アトリ",
        "少女",  # the first name that is not only question marks
        "水菜萌",  # a name keyed by language: the language read
    ]


def test_escapes_comments_and_keys_as_lua_reads_them() -> None:
    text = (
        "ast = {\n  ['block_00000'] = {\n    text = { ja = {\n"
        '      { name = {"夏生"}, "a\\tb\\65\\x41\\228\\186\\154\\u{4E9A}\\z   c\\我" }, -- comment\n'
        "      { name = {'夏生'}, 'it\\'s', [==[\n]]x]==] },\n"
        "    } },\n    [1] = nil, flag = true, n = -1.5e2;\n  },\n}\n"
    )
    assert _said(text, _options()) == [("夏生", "a\tbAA亚亚c我"), ("夏生", "it's]]x")]


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ('ast = {\n  block_00000 = {\n    text = { ja = { { "open } } },\n}\n', 3, "never closed"),
        # The innermost table left open is named.
        ("ast = {\n  block_00000 = {\n    text = {\n", 3, "a table opened here is never"),
        ("ast = {\n  block_00000 = {\n    @bg\n  },\n}\n", 3, "expected where '@bg' is"),
        ("ast = {\n  block_00000 = {\n    x = -\n  },\n}\n", 3, "'-' is no part"),
        ("ast = {\n  a = = 1,\n}\n", 2, "a value was expected where '='"),
        ("{}\n", 1, "a name (`ast = {…}`) was expected"),
    ],
)
def test_a_broken_table_is_one_sentence_naming_its_line(text: str, line: int, why: str) -> None:
    with pytest.raises(DataprepError) as caught:
        parse(text, "broken.ast", _options())
    message = str(caught.value)
    assert message.startswith(f"broken.ast: line {line}: ")
    assert why in message
    assert message.endswith("cannot be read as an Artemis script (.ast, a Lua table).")


def test_told_by_name_and_by_its_first_lines() -> None:
    assert detect_format_why(CHAPTER, "05_11_2.ast") == ("artemis", "from the name")
    assert detect_format_why("\ufeff-- x\nastver = 2.0\nast = {}\n", "ch1.txt")[0] == "artemis"
    assert detect_format_why("ast = {\n}\n", "scene.lua")[0] == "artemis"
    # A dump whose first line merely mentions it is none.
    assert detect_format_why("夏生：ast = 1？\n亚托莉：嗯。\n", "dump.txt")[0] == "plain"


def test_prep_pairs_the_lead_and_her_across_a_folder_of_scripts(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "01_01.ast").write_text(CHAPTER, encoding="utf-8")
    # A second chapter, Japanese alone, saved as the game's Shift-JIS.
    second = "\n".join(
        line for line in CHAPTER.splitlines() if not line.strip().startswith("cn =")
    ).replace(', cn = {"去海边", "回家"}', "")
    (folder / "01_02.ast").write_bytes(second.replace("「はい。", "「うん。").encode("cp932"))
    samples = _exchanges(JAPANESE, folder)
    replies = [turns[-1] for turns in samples]
    # Her lines after the select answer no line of his before it: no sample of them.
    assert not any("カニ" in reply for reply in replies)
    assert any(reply.startswith("はい。") for reply in replies)
    assert any(reply.startswith("うん。") for reply in replies)
    assert all(turns[0].startswith(("お前", "おはよう")) for turns in samples)


def test_prep_reads_a_ports_chinese_for_chinese_aliases(tmp_path: Path) -> None:
    script = tmp_path / "01_01.ast"
    script.write_text(CHAPTER, encoding="utf-8")
    samples = _exchanges(CHINESE, script)
    assert ["你是机器人吗？", "是的。我可是高性能的！"] in samples


def test_an_older_layout_of_no_shape_known_says_how_to_export_it(tmp_path: Path) -> None:
    # The older layouts that are read: tests/dataprep/test_artemis_shapes_s59.py.
    script = tmp_path / "old.ast"
    script.write_text(
        'ast = {\n  [1] = { {"bg", file="a"} },\n  text = { [1] = { ja = 5 } },\n}\n',
        encoding="utf-8",
    )
    (error,) = run_pipeline(JAPANESE, [script]).errors
    assert "older Artemis layout" in error and "VNTextPatch" in error


def test_a_broken_file_beside_good_ones_loses_only_itself(tmp_path: Path) -> None:
    (tmp_path / "good.ast").write_text(CHAPTER, encoding="utf-8")
    (tmp_path / "bad.ast").write_text('ast = {\n  b = { "open\n}\n', encoding="utf-8")
    result = run_pipeline(JAPANESE, [tmp_path])
    assert any("bad.ast: line 2: a string opened here is never closed" in e for e in result.errors)
    assert result.train or result.evaluation


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # Blanks before a string never closed: each way of splitting them was tried (20 s
        # for 25 blanks), then each position searched again to the end (quadratic).
        ("ast = {" + " \n" * 100_000 + '"open', "a string opened here is never closed"),
        # A long comment never closed, on each of many lines: each looked to the end.
        ("ast = {\n" + "--[[ note\n" * 50_000 + "}\n", "a comment opened here is never closed"),
        ("ast = {" + '{"a", x=1, ' * 50_000 + '"open', "a string opened here is never closed"),
        ("ast = {" + "{" * 100_000, "a table opened here is never closed"),
    ],
)
def test_a_broken_file_fails_in_time_linear_in_its_size(text: str, why: str) -> None:
    started = time.perf_counter()
    with pytest.raises(DataprepError, match=why):
        parse(text, "big.ast", _options())
    assert time.perf_counter() - started < 2


def _three_languages() -> str:
    """A scene in ja, en and cn, each long enough for its language to be told."""
    said = {
        "ja": (
            ["夏生"],
            ["アトリ"],
            "「今日はいい天気だな、海に行こうか。」",
            "「はい、わたしも海が大好きです！」",
        ),
        "en": (
            ["Natsuki"],
            ["Atri"],
            "It's a nice day. Shall we go to the sea?",
            "Yes! I love the sea too!",
        ),
        "cn": (["夏生"], ["亚托莉"], "今天天气真好，我们去海边吧。", "好的，我也最喜欢大海了！"),
    }
    blocks = []
    for i in range(6):
        tables = []
        for language, (lead, her, line, reply) in said.items():
            tables.append(
                f'{language} = {{ {{ name = {{"{lead[0]}"}}, "{line}" }},'
                f' {{ name = {{"{her[0]}"}}, "{reply}" }} }}'
            )
        blocks.append(f"  block_{i:05d} = {{ text = {{ {', '.join(tables)} }} }},\n")
    return "astver = 2.0\nast = {\n" + "".join(blocks) + "}\n"


JA_FIRST_LINE = "「今日はいい天気だな、海に行こうか。」"


@pytest.mark.parametrize(
    ("card", "first"),
    [
        ("zh", "今天天气真好，我们去海边吧。"),
        ("en", "It's a nice day. Shall we go to the sea?"),
        ("ja", JA_FIRST_LINE),
        ("", JA_FIRST_LINE),
    ],
)
def test_names_alike_in_every_language_the_cards_language_is_read(card: str, first: str) -> None:
    # ATRI's own aliases name her and him in all three languages: a tie, broken by the
    # card's language (no card language: the first).
    aliases = ["夏生", "Natsuki", "アトリ", "Atri", "亚托莉"]
    options = ParseOptions(
        speaker_aliases=frozenset(normalise_name(a) for a in aliases), card_language=card
    )
    assert parse(_three_languages(), "a.ast", options)[0].text == first


def test_atri_prep_reads_the_text_of_the_cards_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `atri prep`: ATRI's packaged card in Chinese ([persona] language = "zh")
    reads the port's cn text of a script whose names every language's aliases match."""
    (tmp_path / "01.ast").write_text(_three_languages(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    for language, reply in (("zh", "好的，我也最喜欢大海了！"), ("en", "Yes! I love the sea too!")):
        (tmp_path / "config.toml").write_text(
            f'[persona]\nlanguage = "{language}"\n[dataprep]\neval_ratio = 0\n',
            encoding="utf-8",
        )
        result = CliRunner(env={"COLUMNS": "400"}).invoke(
            app, ["prep", "01.ast", "--out", language]
        )
        assert result.exit_code == 0, result.output
        rows = json.loads((tmp_path / language / "atri_sharegpt.json").read_text("utf-8"))
        assert rows[0]["conversations"][-1]["value"] == reply

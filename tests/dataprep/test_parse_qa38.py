"""QA pass 38: how dumps are parsed. A colon after a bracketed name, blanks inside a
name, a quoted line the dump wrapped over several lines, Word documents, a speaker tag in
square brackets that is an alias, and Python inside Ren'Py `translate` blocks."""

from __future__ import annotations

import time
from pathlib import Path

import docx
import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats import plain as plain_format
from dataprep.formats.renpy import names as renpy_names
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role, Utterance
from dataprep.sources import read_docx
from dataprep.speakers import normalise_name
from tests.dataprep.conftest import FIXTURES


def said(utterances: list[Utterance]) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in utterances]


def settings(**dataprep: object) -> DataprepSettings:
    return DataprepSettings(eval_ratio=0, **dataprep)  # type: ignore[arg-type]


def run(paths: list[Path], **dataprep: object) -> tuple[list[list[tuple[Role, str]]], PrepResult]:
    result = run_pipeline(settings(**dataprep), paths)
    return [s.turns for s in result.train], result


# 1. A colon after a bracketed name ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "kirikiri"])
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("【亚托莉】：早上好", ("亚托莉", "早上好")),
        ("【夏生】:你好", ("夏生", "你好")),
        ("【亚托莉】 ： 「早上好」", ("亚托莉", "「早上好」")),
        ("【亚托莉】「早上好」", ("亚托莉", "「早上好」")),  # as before
    ],
)
def test_a_colon_after_a_bracketed_name_is_no_part_of_the_line(
    fmt: str, line: str, expected: tuple[str, str]
) -> None:
    # It gave ("亚托莉", "：早上好"): the colon stayed at the head of the line.
    assert said(parse(line, "x", fmt, ParseOptions())) == [expected]


def test_a_bracketed_name_and_colon_alone_names_the_quoted_line_below() -> None:
    found = parse("【亚托莉】：\n「早上好」\n【回想】：\n「嗯」\n", "x", "plain", ParseOptions())
    # A heading with a colon still names nobody.
    assert said(found) == [("亚托莉", "「早上好」"), (None, "【回想】："), (None, "「嗯」")]


def test_colon_after_bracketed_names_through_the_pipeline() -> None:
    turns, _ = run([FIXTURES / "qa38_bracket_colon.txt"])
    assert turns[-1] == [
        (Role.LEAD, "早上好，亚托莉。"),
        (Role.CHARACTER, "早上好，{{user}}先生！"),
        (Role.LEAD, "今天做什么？"),
        (Role.CHARACTER, "去海边捡贝壳吧！"),
    ]


# 2. Blanks in and around a name; a colon between digits ------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("夏生\u3000：你好", ("夏生", "你好")),
        ("\u3000夏生\u3000：你好", ("夏生", "你好")),
        ("斑鳩\u3000夏生：你好", ("斑鳩夏生", "你好")),
        ("Natsuki\u00a0Kaito: hi", ("Natsuki Kaito", "hi")),
        ("Natsuki\u00a0\u00a0Kaito\u3000: hi", ("Natsuki Kaito", "hi")),
        ("Natsuki  Kaito: hi", ("Natsuki Kaito", "hi")),
        ("【亚托莉\u3000】早上好", ("亚托莉", "早上好")),
        ("[Natsuki\u00a0Kaito] hi", ("Natsuki Kaito", "hi")),
        # A colon between digits is a time, not the end of a name.
        ("Time 10:30 we meet", (None, "Time 10:30 we meet")),
        ("时间 10:30", (None, "时间 10:30")),
        ("时间 １０：３０ 出发", (None, "时间 １０：３０ 出发")),
        ("Atri 10:30", (None, "Atri 10:30")),
        # A time after the colon of a name is still a line.
        ("夏生：10点了", ("夏生", "10点了")),
        ("Atri: 10:30 already?", ("Atri", "10:30 already?")),
        ("Agent 47: Done.", ("Agent 47", "Done.")),
    ],
)
def test_blanks_in_names_and_times_in_plain_lines(
    line: str, expected: tuple[str | None, str]
) -> None:
    # Before: a name with NBSP in it was narration, and "Time 10:30" a speaker "Time 10".
    assert said(parse(line, "x", "plain", ParseOptions())) == [expected]


def test_a_name_alone_with_an_nbsp_names_the_quoted_line_below() -> None:
    found = parse("Natsuki\u00a0Kaito:\n“Hi.”\n", "x", "plain", ParseOptions())
    assert said(found) == [("Natsuki Kaito", "“Hi.”")]


@pytest.mark.parametrize("line", ["#Natsuki\u00a0 Kaito", '[nm t="Natsuki\u3000Kaito "]'])
def test_kirikiri_names_are_tidied(line: str) -> None:
    assert said(parse(f"{line}\nhi[p]\n", "x", "kirikiri", ParseOptions())) == [
        ("Natsuki Kaito", "hi")
    ]


def test_names_with_blanks_match_their_aliases() -> None:
    turns, result = run(
        [FIXTURES / "qa38_name_blanks.txt"],
        lead_aliases=["Natsuki Kaito"],
        character_aliases=["Atri"],
        user_placeholder=False,
    )
    assert turns[-1] == [
        (Role.LEAD, "Morning, Atri."),
        (Role.CHARACTER, "Good morning, Natsuki!"),
        (Role.LEAD, "What now?"),
        (Role.CHARACTER, "Breakfast, of course."),
    ]
    # The time line is narration (skipped by default), not a speaker "Time 10".
    assert {s["name"] for s in result.stats.to_json()["speakers"]} == {"Natsuki Kaito", "Atri"}


# 3. A quote the dump wrapped over several lines ---------------------------------------


def test_a_wrapped_quote_is_one_line() -> None:
    text = (FIXTURES / "qa38_wrapped.txt").read_text(encoding="utf-8")
    found = parse(text, "w.txt", "plain", ParseOptions())
    # Before: "「今天的天气" was the line, and "真好啊，" and the rest narration.
    assert [(u.speaker, u.text, u.line) for u in found] == [
        ("夏生", "今天做什么？", 1),
        ("亚托莉", "「今天的天气真好啊，我们去海边捡贝壳吧」", 2),
        ("夏生", "好。", 5),
        ("亚托莉", "「我可是高性能的」", 7),  # named by a 【名字】 line above
        (None, "海风吹过沙滩。", 9),  # narration after the closer stays narration
        ("夏生", "那就出发。", 10),
        ("亚托莉", "『他说「走吧」然后就走了』", 11),
        ("夏生", "谁？", 13),
        ("Atri", "“Good morning, Natsuki. Breakfast is ready.”", 14),
        (None, "She smiled.", 17),
    ]


def test_an_unclosed_quote_swallows_no_narration_and_no_other_line() -> None:
    text = (FIXTURES / "qa38_unclosed.txt").read_text(encoding="utf-8")
    found = parse(text, "u.txt", "plain", ParseOptions())
    # The closer five lines below is too far: every line stays as it was; so do a quote
    # followed by another speaker's line, by a quote of its own, or by a blank line.
    assert [(u.speaker, u.text) for u in found] == [
        ("亚托莉", "「这句话没有结束"),
        (None, "海风吹过沙滩。"),
        (None, "远处传来海鸥的叫声。"),
        (None, "夏生看着大海。"),
        (None, "天色渐渐暗了下来。"),
        (None, "太阳落山了」"),
        ("夏生", "「走吧"),
        ("亚托莉", "「好」"),
        ("亚托莉", "「等一下"),
        (None, "「嗯」她点点头。"),
        ("亚托莉", "「还有"),
        (None, "这是新的一段」"),
    ]


def test_a_wrapped_quote_is_joined_across_the_parser_s_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (FIXTURES / "qa38_wrapped.txt").read_text(encoding="utf-8")
    whole = said(parse(text, "w.txt", "plain", ParseOptions()))
    # Slices of a line or two: every wrapped quote spans a slice boundary.
    monkeypatch.setattr(plain_format, "CHUNK_CHARS", 8)
    assert len(list(plain_format.iter_batches(text, "w.txt", ParseOptions()))) > 10
    assert said(parse(text, "w.txt", "plain", ParseOptions())) == whole


@pytest.mark.parametrize(
    "line", ["夏生：" + "「" * 30_000 + "」", "夏生：「" + "“" * 30_000 + "」", "「" * 30_000]
)
def test_a_line_of_many_openers_is_read_at_once(line: str) -> None:
    # Each opener's try read to the line's end: a 30k-character line took seconds.
    started = time.perf_counter()
    parse(f"{line}\na\nb」\n", "x", "plain", ParseOptions())
    assert time.perf_counter() - started < 1


def test_wrapped_quotes_through_the_pipeline() -> None:
    turns, _ = run([FIXTURES / "qa38_wrapped.txt"])
    replies = [t[-1][1] for t in turns]
    assert "今天的天气真好啊，我们去海边捡贝壳吧" in replies
    assert "我可是高性能的" in replies


# 4. Word documents --------------------------------------------------------------------


def _word_dump(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("夏生：今天去哪？")
    # Word split the line: its quote closes in the next paragraph, which has no name.
    document.add_paragraph("亚托莉：「今天的天气")
    document.add_paragraph("真好啊，去海边吧」")
    table = document.add_table(rows=4, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "夏生", "带上水壶。"
    table.rows[1].cells[0].text = "亚托莉"
    cell = table.rows[1].cells[1]
    cell.text = "遵命！"
    cell.add_paragraph("我这就去准备。")  # the line goes on in a second paragraph of its cell
    # A heading merged across both columns: python-docx gives the cell once per column.
    table.rows[2].cells[0].merge(table.rows[2].cells[1]).text = "海边"
    table.rows[3].cells[0].text, table.rows[3].cells[1].text = "夏生", "出发。"
    document.add_paragraph("亚托莉：好的！")
    document.save(str(path))
    return path


def test_word_split_paragraphs_and_table_cells_are_said_lines(tmp_path: Path) -> None:
    turns, result = run([_word_dump(tmp_path / "dump.docx")], min_reply_chars=1)
    assert [t[-1] for t in turns] == [
        (Role.CHARACTER, "今天的天气真好啊，去海边吧"),
        (Role.CHARACTER, "遵命！我这就去准备。"),
        (Role.CHARACTER, "好的！"),
    ]
    # The heading row names nobody: it was a line of speaker "海边" saying "海边".
    assert {s["name"] for s in result.stats.to_json()["speakers"]} == {"夏生", "亚托莉"}


def test_a_word_table_row_is_read_as_one_line(tmp_path: Path) -> None:
    text = read_docx(_word_dump(tmp_path / "dump.docx"))
    assert text.splitlines()[3:7] == [
        "夏生\t带上水壶。",
        "亚托莉\t遵命！我这就去准备。",
        "海边",
        "夏生\t出发。",
    ]


# 5. An alias in square brackets as a speaker tag ---------------------------------------

ALIASES = ParseOptions(
    speaker_aliases=frozenset(normalise_name(a) for a in ["Natsuki", "夏生", "Atri", "亚托莉", "L"])
)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("plain", "[atri] Good morning!", [("atri", "Good morning!")]),
        ("plain", "[atri]：早上好", [("atri", "早上好")]),
        ("plain", "[ Natsuki ] yo", [("Natsuki", "yo")]),
        ("plain", "[L] ……", [("L", "……")]),  # a KAG tag's name, but an alias here
        ("plain", "[atri]\n「早上好」", [("atri", "「早上好」")]),
        ("kirikiri", "[atri] Good morning![p]", [("atri", "Good morning!")]),
        ("kirikiri", "[亚托莉]：早上好[p]", [("亚托莉", "早上好")]),
        ("kirikiri", "[atri]\n「早上好」[p]", [("atri", "「早上好」")]),
    ],
)
def test_an_alias_in_brackets_is_the_speaker(
    fmt: str, text: str, expected: list[tuple[str, str]]
) -> None:
    # Before: narration "[atri] Good morning!" (cleaning then deleted the tag) in plain,
    # and the tag dropped with no speaker in KiriKiri.
    assert said(parse(text, "x", fmt, ALIASES)) == expected


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("plain", "[teacher] hi", [(None, "[teacher] hi")]),  # cleaning deletes the tag
        ("plain", "[sighs] hi", [(None, "[sighs] hi")]),
        ("kirikiri", "[teacher] hi[p]", [(None, "hi")]),
        ("kirikiri", "[l] hi[p]", [(None, "hi")]),  # a wait, though "L" is an alias
        ("kirikiri", "[r]hi[p]", [(None, "hi")]),
    ],
)
def test_other_bracketed_tags_stay_markup(
    fmt: str, text: str, expected: list[tuple[str | None, str]]
) -> None:
    assert said(parse(text, "x", fmt, ALIASES)) == expected


@pytest.mark.parametrize("name", ["qa38_alias_tags.txt", "qa38_alias_tags_kag.txt"])
def test_alias_tags_through_the_pipeline(name: str) -> None:
    turns, result = run([FIXTURES / name], user_placeholder=False)
    # The [p] waits make the second a KiriKiri file, where each `[名字]` was a tag dropped.
    assert result.files[0].format == ("kirikiri" if "kag" in name else "plain")
    assert len(turns[-1]) == 4
    assert [role for role, _ in turns[-1]] == [Role.LEAD, Role.CHARACTER] * 2
    assert turns[-1][-1][1] in ("I am high-performance.", "我可是高性能的。")
    # The teacher is no alias: in the dump he is no one; in the .ks his `[老师]`, a tag no
    # file defines whose name is no tag's, is a name macro (test_kag_s44_kag), and he is
    # another speaker.
    others = [s["name"] for s in result.stats.to_json()["speakers"] if s["role"] == "other"]
    assert others == (["老师"] if "kag" in name else [])


# 6. Python inside Ren'Py `translate` blocks ------------------------------------------

RENPY = FIXTURES / "qa38_renpy"


@pytest.mark.parametrize("language", [None, renpy_translations.ORIGINAL, "chinese"])
def test_nothing_in_a_strings_or_style_block_is_said(language: str | None) -> None:
    text = (RENPY / "tl.rpy").read_text(encoding="utf-8")
    options = ParseOptions(
        renpy_language=language,
        renpy_characters={"a": "Atri", "n": "Natsuki"},
        renpy_variables={"title": "Captain"},
    )
    found = parse(text, "tl.rpy", "renpy", options)
    # Before: `$ a("…")` in the strings block was Atri's line in every language, and the
    # style block's `font "…"` / `color "…"` lines of speakers "font" and "color".
    assert {u.speaker for u in found} <= {"Atri", "Natsuki"}
    assert "Not a line of the game." not in [u.text for u in found]
    # The `$ title = "船长"` in a dialogue block is no said line either.
    if language != renpy_translations.ORIGINAL:
        assert [u.text for u in found] == [
            "你是谁？",
            "我是你的Captain。",
            "真的？",
            "真的，Captain。",
        ]


def test_a_value_set_in_a_translate_block_holds_in_its_language_only() -> None:
    names = renpy_names.ScriptNames()
    for name in ("script.rpy", "tl.rpy"):
        names.add((RENPY / name).read_text(encoding="utf-8"))
    assert names.known(renpy_translations.ORIGINAL) == {"title": "Captain"}
    assert "title" not in names.unsettled(renpy_translations.ORIGINAL)
    # In Chinese both run: `default` before the story, the block's `$` on its line.
    assert names.unsettled("chinese")["title"] == ("Captain", "船长")


def test_the_original_lines_keep_a_variable_a_translation_sets() -> None:
    turns, result = run([RENPY], renpy_language="original", user_placeholder=False)
    # Before: `$ title = "船长"` in the Chinese block made [title] unsettled ("Captain" and
    # "船长") and both of ATRI's original lines were dropped.
    assert turns[-1] == [
        (Role.LEAD, "Who are you?"),
        (Role.CHARACTER, "I am your Captain."),
        (Role.LEAD, "Really?"),
        (Role.CHARACTER, "Really, Captain."),
    ]
    assert not any("船长" in note for note in result.notes)

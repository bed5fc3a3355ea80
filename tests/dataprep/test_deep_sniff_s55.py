"""Session 55: a file's format was told from its first 32 KB / 400 lines alone. A
translation dump whose translator's notes filled them was read as plain (no dialogue, or
the pairs' marks in the speakers), and "no dialogue found" could not suggest
`--format translation_dump`; an example line the notes quote (`[0x00000000]名前「例」`)
was taken as the first pair, the dump's layout told from it. Past a head that reads as
plain, sniffing now looks for another format's signs further down, and a dump's pairs
start at the first marked line of a run of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, detect_format_at, detect_format_why, parse
from dataprep.pipeline import prepare, run_pipeline
from dataprep.writers import dataset_stem
from tests.dataprep.conftest import FIXTURES

S54 = FIXTURES / "s54"
SYSTEM = "你是宁宁，正在和{{user}}说话。"
# Prose with no colon, quote nor mark: nothing plain reads as said.
NOTE = "本章人名沿用官方中文版的译法，敬语按语境处理，拟声词尽量意译，双关语在句后加注。"


def _notes(chars: int, lines: int, example: str = "") -> str:
    """A translator's notes, at least `chars` long and `lines` lines (a blank one between
    paragraphs), `example` quoted in the middle of them with prose below it."""
    out: list[str] = []
    while sum(len(line) + 1 for line in out) < chars or len(out) < lines:
        out.append(f"第{len(out) // 2 + 1}条译注　{NOTE * 2}" if len(out) % 2 == 0 else "")
        if example and len(out) == lines // 2:
            out += ["例如这一行：", example, "这里的编号是工具加的，不用翻译。", ""]
    return "\n".join(out) + "\n\n"


def _settings(**more: object) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["柊史"], character_aliases=["宁宁", "寧々"], eval_ratio=0, **more
    )


def _samples(tmp_path: Path, name: str, text: str) -> tuple[list[tuple[str, str]], Any]:
    """The samples a real run writes of one file, and its stats.json."""
    script = tmp_path / name
    script.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = prepare(_settings(), [script], out, system_prompt=SYSTEM)
    assert result.problem is None, result.problem
    stem = dataset_stem(_settings().character_aliases)
    stats = json.loads((out / f"{stem}_stats.json").read_text(encoding="utf-8"))
    rows = json.loads((out / f"{stem}_sharegpt.json").read_text(encoding="utf-8"))
    pairs = [
        (row["conversations"][i]["value"], row["conversations"][i + 1]["value"])
        for row in rows
        for i in range(0, len(row["conversations"]) - 1, 2)
    ]
    return pairs, stats


BRACKETED = (S54 / "head_notes_bracketed.txt").read_text("utf-8")
# Pairs with a speaker of each line, `○N○` in six-wide numbers: `○00ABCD○` reads as a
# number only where the file's width is told from its pairs (8 is the default).
CIRCLED = "".join(
    f"○{n}○{ja}\n●{n}●{zh}\n\n"
    for n, ja, zh in [
        ("000001", "柊史「寧々、もう帰るのか？」", "柊史「宁宁，已经要回去了吗？」"),
        ("000002", "寧々「はい、今日は用事がありますから」", "宁宁「是的，今天还有事情要办」"),
        ("00ABCD", "柊史「そっか。また明日な」", "柊史「这样啊。明天见」"),
        ("00ABCE", "寧々「はい、また明日」", "宁宁「嗯，明天见」"),
    ]
)


def test_a_dump_below_long_notes_is_told_and_read(tmp_path: Path) -> None:
    notes = _notes(40_000, 600)
    assert len(notes) > 40_000 and notes.count("\n") > 600
    text = notes + BRACKETED
    fmt, why = detect_format_why(text, "dump.txt")
    line = notes.count("\n") + 1
    assert fmt == "translation_dump"
    assert why == f"its lines are [0x…] / ;[0x…] pairs, from line {line} on, below a header"
    pairs, stats = _samples(tmp_path, "dump.txt", text)
    assert stats["files"][0]["format"] == "translation_dump"
    assert ("宁宁，已经要回去了吗？", "是的，今天还有事情要办") in pairs
    assert ("这样啊。明天见", "嗯，明天见") in pairs
    assert {s["name"] for s in stats["speakers"]} == {"柊史", "宁宁"}
    assert not any("译注" in said or "译法" in said for pair in pairs for said in pair)
    # Its 5 translated lines, not one more from the notes.
    assert stats["files"][0]["utterances"] == 5


def test_an_example_line_in_the_notes_is_no_first_pair(tmp_path: Path) -> None:
    # The notes quote a bracketed line; the pairs are `○N○`, six wide. Told from the
    # example, the width was 8 and `○00ABCD○` glued to the line above as its text.
    notes = _notes(40_000, 600, example="[0x00000000]名前「例」")
    text = notes + CIRCLED
    said = parse(text, "dump.txt", "translation_dump", ParseOptions())
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("柊史", "「宁宁，已经要回去了吗？」", None),
        ("宁宁", "「是的，今天还有事情要办」", None),
        ("柊史", "「这样啊。明天见」", None),
        ("宁宁", "「嗯，明天见」", None),
    ]
    fmt, _, start = detect_format_at(text, "dump.txt")
    assert (fmt, text[start:].startswith(CIRCLED)) == ("translation_dump", True)
    pairs, stats = _samples(tmp_path, "dump.txt", text)
    assert set(pairs) == {
        ("宁宁，已经要回去了吗？", "是的，今天还有事情要办"),
        ("这样啊。明天见", "嗯，明天见"),
    }
    # The example is no pair: no line of 名前, nor one left untranslated.
    assert stats["files"][0]["utterances"] == 4
    assert {s["name"] for s in stats["speakers"]} == {"柊史", "宁宁"}
    assert stats["character_lines"]["dropped"] == {}


def test_a_circled_example_above_bracketed_pairs_tells_no_layout(tmp_path: Path) -> None:
    # Told from a `○N○` example with 20,000 characters of notes below it, the brackets of
    # the real pairs were never read as marks: no dialogue.
    notes = _notes(60_000, 600, example="○00000000○名前「例」")
    said = parse(notes + BRACKETED, "dump.txt", "translation_dump", ParseOptions())
    assert [u.speaker for u in said] == ["柊史", "宁宁", None, "柊史", "宁宁"]
    pairs, stats = _samples(tmp_path, "dump.txt", notes + BRACKETED)
    assert ("宁宁，已经要回去了吗？", "是的，今天还有事情要办") in pairs
    assert stats["files"][0]["format"] == "translation_dump"
    assert stats["files"][0]["utterances"] == 5


def test_a_lone_marked_line_with_no_pairs_is_still_the_start() -> None:
    text = _notes(1_000, 10) + "○000001○夏生「おはよう」\n"
    # A marked line or two ending a file make it no dump.
    assert detect_format_at(text, "dump.txt") == ("plain", "", 0)
    assert detect_format_at(text + "●000001●夏生「早上好」\n", "dump.txt")[0] == "plain"
    # Read as one, with no run anywhere: the first marked line is where the pairs start.
    said = parse(text, "dump.txt", "translation_dump", ParseOptions(dump_side="original"))
    assert [(u.speaker, u.text) for u in said] == [("夏生", "「おはよう」")]


def test_a_plain_script_whose_notes_mention_nothing_reads_as_plain(tmp_path: Path) -> None:
    # Long notes, then plain lines; a line mentioning a label word or a lone bracket
    # further down is no sign.
    body = "".join(f"柊史：宁宁，第{i}次见面了呢。\n宁宁：是啊，真巧。\n" for i in range(300))
    body += "label 这个词在这里不是命令\n[旁白]夕阳西下。\n"
    text = _notes(40_000, 600) + body
    assert detect_format_at(text, "script.txt") == ("plain", "", 0)
    pairs, stats = _samples(tmp_path, "script.txt", text)
    assert stats["files"][0]["format"] == "plain"
    assert ("宁宁，第0次见面了呢。", "是啊，真巧。") in pairs


def test_an_empty_plain_run_of_such_a_dump_suggests_the_dump(tmp_path: Path) -> None:
    # Notes longer than the 64 KB "no dialogue found" tried other formats on.
    script = tmp_path / "dump.txt"
    script.write_text(_notes(80_000, 600) + BRACKETED, encoding="utf-8")
    (error,) = run_pipeline(_settings(), [script], fmt="plain").errors
    assert "no dialogue found as plain" in error
    assert error.endswith(
        ". It reads as translation_dump (4 spoken lines; most by 柊史 (2), 宁宁 (2)):"
        " try --format translation_dump."
    )


def test_the_detection_note_weighs_the_pairs_not_the_notes(tmp_path: Path) -> None:
    # Notes whose lines read as plain's `名字：台词` (`译注1：…`): weighed against the
    # pairs, they made the note suggest --format plain for the dump.
    notes = "".join(f"译注{i}：{NOTE}\n" for i in range(1, 200))
    script = tmp_path / "dump.txt"
    script.write_text(notes + "\n" + BRACKETED, encoding="utf-8")
    result = run_pipeline(_settings(), [script])
    assert result.stats.files[0].format == "translation_dump"
    assert (
        "Read as translation_dump, from what their lines look like (its lines are [0x…] /"
        " ;[0x…] pairs, from line 201 on, below a header): dump.txt." in result.notes
    )

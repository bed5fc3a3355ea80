"""A custom regex holding a line break reads a dump that names the speaker on the line
above the words (a tool's dump of a real game: `@名前` then the text, `@ ` for
narration); and a run whose lines hardly ever name a speaker says the shape may be
unread, not only that the aliases are wrong."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.formats import ParseOptions, parse

ABOVE = r"^@(?P<speaker>\S*)[ \t]*\n(?P<text>.+)$"
DUMP = "@夏生\nおはよう。\n@ \n海の音がする。\n=== 第二章 ===\n@アトリ\nおはようございます！\n"


def test_a_regex_with_a_line_break_reads_the_name_above_the_words() -> None:
    options = ParseOptions(custom_regex=re.compile(ABOVE), scene_marker=re.compile("=== "))
    found = parse(DUMP + "余白の行\n", "d.txt", "regex", options)
    assert [(u.speaker, u.text, u.line, u.scene) for u in found] == [
        ("夏生", "おはよう。", 1, "0"),
        (None, "海の音がする。", 3, "0"),  # `@ `: no name, narration
        ("アトリ", "おはようございます！", 6, "1"),  # after the scene marker between matches
        (None, "余白の行", 8, "1"),  # a line no match takes is narration
    ]


def test_a_regex_within_one_line_still_reads_line_by_line() -> None:
    options = ParseOptions(custom_regex=re.compile(r"^(?P<speaker>[^|]+)\|(?P<text>.*)$"))
    found = parse("夏生|早\n旁白\n亚托莉|早上好\n", "d.txt", "regex", options)
    assert [(u.speaker, u.text, u.line) for u in found] == [
        ("夏生", "早", 1),
        (None, "旁白", 2),
        ("亚托莉", "早上好", 3),
    ]


def prep(tmp_path: Path, script: Path, **dataprep: object) -> tuple[int, str]:
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path, dataprep=DataprepSettings(**dataprep))  # type: ignore[arg-type]
    code = run_prep(settings, [script], tmp_path / "out", None, "你是{{char}}。", console)
    return code, console.export_text()


def dump(tmp_path: Path) -> Path:
    script = tmp_path / "dump.txt"
    pairs = [("@夏生", f"第{i}句。") if i % 2 else ("@アトリ", f"回答{i}。") for i in range(80)]
    script.write_text("\n".join(f"{a}\n{b}" for a, b in pairs) + "\n", encoding="utf-8")
    return script


def test_a_run_whose_lines_name_no_speaker_points_at_custom_regex(tmp_path: Path) -> None:
    aliases = {"lead_aliases": ["夏生"], "character_aliases": ["アトリ"]}
    code, said = prep(tmp_path, dump(tmp_path), **aliases)
    assert code != 0
    said = " ".join(said.split())
    assert re.search(r"Only [01] of the 160 lines read named a speaker", said)
    assert "[dataprep] custom_regex can read" in said

    code, said = prep(tmp_path, dump(tmp_path), custom_regex=ABOVE, **aliases)
    assert code == 0, said
    assert "named a speaker" not in said


def test_a_script_naming_its_speakers_is_told_only_about_the_aliases(tmp_path: Path) -> None:
    script = tmp_path / "plain.txt"
    script.write_text("".join(f"夏生：第{i}句。\n水菜萌：回答{i}。\n" for i in range(60)), "utf-8")
    code, said = prep(tmp_path, script, lead_aliases=["夏生"], character_aliases=["アトリ"])
    assert code != 0 and "No speaker matched the character" in said
    assert "named a speaker" not in said


def test_a_game_script_of_narration_is_not_sent_to_custom_regex(tmp_path: Path) -> None:
    script = tmp_path / "story.rpy"
    lines = "".join(f'    "The sea, line {i}."\n' for i in range(120))
    script.write_text(f'define e = Character("Eileen")\nlabel start:\n{lines}', "utf-8")
    code, said = prep(tmp_path, script, lead_aliases=["Max"], character_aliases=["Eileen"])
    said = " ".join(said.split())
    assert code != 0
    assert "Only 0 of the 122 lines read named a speaker: the files given are mostly" in said
    assert "custom_regex" not in said

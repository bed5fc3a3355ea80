"""Session 52: BKEngine's `.bkscr` scripts (KAG-like; the shape of BKEngine's quickstart
main.bkscr, written inline) are found in a folder and read as KiriKiri, and a tag whose
name holds "name" gives the speaker in `text=` (`[namebox text="凉子"]`); another tag's
`text=` (a ruby's reading, `[say text=…]`) names no one."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import parse_options, run_pipeline
from dataprep.sources import collect_scripts

SETTINGS = DataprepSettings(lead_aliases=["凉子"], character_aliases=["真由"])
SCRIPT = (
    "*main\n"
    '[sprite index=10 file="images/BG32a_1280.jpg"]\n'
    '[bgm file="sound/tam-n16.ogg" fadein=200 loop=true vol=100]\n'
    "\n"
    '[namebox text="凉子"]\n'
    "抱歉，等很久了么？？[p]\n"
    "\n"
    '[namebox text="真由"]\n'
    "啊，真是的，凉子你怎么那么慢？[p]\n"
    "\n"
    "美好的一天开始了[p]\n"
    "@quit\n"
)


def _said(path: Path) -> list[tuple[str | None, str]]:
    scripts, _ = load_scripts([path], SETTINGS, None)
    options = parse_options(SETTINGS, scripts)
    return [(u.speaker, u.text) for u in parse(scripts[0].text, path.name, "kirikiri", options)]


def test_a_bkscr_file_is_found_and_read_as_kirikiri(tmp_path: Path) -> None:
    path = tmp_path / "main.bkscr"
    path.write_text(SCRIPT, encoding="utf-8")
    assert collect_scripts([tmp_path]) == [path]
    # By its name, even with no KAG sign in its first lines.
    assert detect_format("这是一行字。\n", "a.bkscr") == "kirikiri"


def test_namebox_text_names_the_speaker(tmp_path: Path) -> None:
    path = tmp_path / "main.bkscr"
    path.write_text(SCRIPT, encoding="utf-8")
    assert _said(path) == [
        ("凉子", "抱歉，等很久了么？？"),
        ("真由", "啊，真是的，凉子你怎么那么慢？"),
        (None, "美好的一天开始了"),
    ]
    result = run_pipeline(SETTINGS, [path])
    assert [[text for _, text in s.turns] for s in result.train + result.evaluation] == [
        ["抱歉，等很久了么？？", "啊，真是的，{{user}}你怎么那么慢？"]
    ]


def test_text_of_a_tag_without_name_in_its_name_names_no_one(tmp_path: Path) -> None:
    path = tmp_path / "a.ks"
    path.write_text(
        '*start\n[caption text="凉子"]\n抱歉，等很久了么？？[p]\n[caption text="真由"]\n啊？[p]\n',
        encoding="utf-8",
    )
    assert [speaker for speaker, _ in _said(path)] == [None, None]
    assert parse(SCRIPT, "main.bkscr", "kirikiri", ParseOptions())[0].speaker is None

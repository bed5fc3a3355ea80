"""Why no held-out file was written, when a scene's lines of hers were dropped before any
sample was made (the lead's line too long, her line empty after cleaning): the note said
she had no line following one of the lead, though she answered him."""

from __future__ import annotations

from pathlib import Path

from tests.cli_output import says
from tests.dataprep.test_report_s44_clean import CHAPTER_ONE, prep


def test_a_scene_whose_lead_line_was_too_long_says_so(tmp_path: Path) -> None:
    scene = "第二章\n夏生：" + "很长的话。" * 100 + "\n亚托莉：是的。\n"
    said = prep(tmp_path, CHAPTER_ONE + scene)
    assert says(said, "the script has 2 scenes, but samples were kept from only 1")
    assert says(said, "1 had lines of ATRI dropped before any sample (prompt_too_long = 1)")
    assert "following one of the lead" not in said


def test_a_scene_whose_lines_of_hers_were_empty_after_cleaning_says_so(tmp_path: Path) -> None:
    scene = "第二章\n夏生：你在想什么？\n亚托莉：<br>\n"
    said = prep(tmp_path, CHAPTER_ONE + scene)
    assert says(said, "1 had lines of ATRI dropped before any sample (empty_after_clean = 1)")
    assert "following one of the lead" not in said


def test_a_scene_where_she_never_answers_him_keeps_the_old_reason(tmp_path: Path) -> None:
    scene = "第二章\n夏生：你在想什么？\n"
    said = prep(tmp_path, CHAPTER_ONE + scene)
    assert says(said, "1 had no line of ATRI following one of the lead")
    assert "dropped before any sample" not in said

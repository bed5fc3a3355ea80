"""Why no held-out file was written, when a scene's only lines of hers were sounds: the
note said she had no line following one of the lead, though she answered him."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from tests.cli_output import says


def prep(tmp_path: Path, text: str) -> str:
    dump = tmp_path / "dump.txt"
    dump.write_text(text, encoding="utf-8")
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path, dataprep=DataprepSettings())
    assert run_prep(settings, [dump], tmp_path / "out", None, "", console) == 0
    return console.export_text()


CHAPTER_ONE = (
    "第一章\n"
    "夏生：你还好吗？\n"
    "亚托莉：我很好，谢谢你，夏生先生。\n"
    "夏生：那就好，我们去海边吧。\n"
    "亚托莉：好的！我最喜欢大海了！\n"
)


def test_a_scene_whose_lines_of_hers_were_only_sounds_says_so(tmp_path: Path) -> None:
    sounds = "第二章\n夏生：你在想什么？\n亚托莉：嗯・・・・・・\n夏生：说嘛。\n亚托莉：唔……\n"
    quiet = "第三章\n远处传来海鸥的叫声。\n"
    said = prep(tmp_path, CHAPTER_ONE + sounds + quiet)
    assert says(said, "the script has 3 scenes, but samples were kept from only 1")
    assert says(
        said, "1 had only sounds from ATRI after the lead's lines (dropped as interjection_only)"
    )
    assert says(said, "1 had no line of ATRI following one of the lead")


def test_words_before_his_lines_leave_the_sounds_after_them_the_reason(tmp_path: Path) -> None:
    # Her "早上好。" came before any line of his: it could be no sample either way.
    scene = "第二章\n亚托莉：早上好。\n夏生：你在想什么？\n亚托莉：嗯・・・・・・\n"
    said = prep(tmp_path, CHAPTER_ONE + scene)
    assert says(said, "1 had only sounds from ATRI after the lead's lines")
    assert "following one of the lead" not in said


def test_sounds_before_any_line_of_his_are_not_the_reason(tmp_path: Path) -> None:
    scene = "第二章\n亚托莉：嗯・・・・・・\n亚托莉：早上好。\n夏生：早。\n"
    said = prep(tmp_path, CHAPTER_ONE + scene)
    assert says(said, "1 had no line of ATRI following one of the lead")
    assert "only sounds" not in said

"""What `atri prep` says about a Ren'Py game's files that hold no dialogue (options.rpy,
gui.rpy, screens.rpy: one quiet line when other files have dialogue), and why it wrote
no held-out file when the scenes were found but all but one lost their samples."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from tests.cli_output import says

SYSTEM = "你是艾琳，正在和{{user}}说话。"

SCRIPT_RPY = """\
define e = Character("Eileen")
define m = Character("Max")

label start:
    m "Good morning, Eileen."
    e "Good morning! Did you sleep well?"
    m "Not really, the storm kept me up."
    e "Then I will make you some strong tea."
"""
# What every Ren'Py game folder holds beside its script: no say statement in any of them.
NO_DIALOGUE = {
    "options.rpy": 'define config.name = _("A Game")\ndefine config.version = "1.0"\n',
    "gui.rpy": "init offset = -2\ndefine gui.text_size = 22\ndefine gui.accent_color = '#cc6600'\n",
    "screens.rpy": 'screen say(who, what):\n    window:\n        text what id "what"\n',
}


def prep(tmp_path: Path, scripts: list[Path], **dataprep: object) -> tuple[int, str]:
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path, dataprep=DataprepSettings(**dataprep))  # type: ignore[arg-type]
    code = run_prep(settings, scripts, tmp_path / "out", None, SYSTEM, console)
    return code, console.export_text()


def game_folder(tmp_path: Path, with_script: bool) -> Path:
    game = tmp_path / "game"
    game.mkdir()
    for name, text in NO_DIALOGUE.items():
        (game / name).write_text(text, encoding="utf-8")
    if with_script:
        (game / "script.rpy").write_text(SCRIPT_RPY, encoding="utf-8")
    return game


EILEEN = {"lead_aliases": ["Max"], "character_aliases": ["Eileen"]}


def test_rpy_files_without_dialogue_are_one_quiet_line_beside_a_script(tmp_path: Path) -> None:
    code, said = prep(tmp_path, [game_folder(tmp_path, with_script=True)], **EILEEN)
    assert code == 0, said
    assert "skipped" not in said
    assert "expected Ren'Py lines" not in said
    assert says(said, "3 .rpy files hold no dialogue (gui.rpy, options.rpy, screens.rpy)")
    # With no dialogue in any file, each keeps its sentence and the format hint.
    alone = tmp_path / "alone"
    alone.mkdir()
    code, said = prep(alone, [game_folder(alone, with_script=False)], **EILEEN)
    assert code == 1
    for name in NO_DIALOGUE:
        assert says(said, f"{name}: no dialogue found as renpy; expected Ren'Py lines like")
    assert "hold no dialogue (" not in said


def chapter(n: str) -> str:
    return (
        f"第{n}章\n"
        "夏生：你还好吗？\n"
        "亚托莉：我很好，谢谢你，夏生先生。\n"
        "夏生：那就好，我们去海边吧。\n"
        "亚托莉：好的！我最喜欢大海了！\n"
        "夏生：今天的风有点大。\n"
        "亚托莉：没关系，我是高性能的机器人嘛。\n"
    )


def test_scenes_found_but_dropped_as_duplicates_are_named_not_scene_markers(
    tmp_path: Path,
) -> None:
    dump = tmp_path / "dump.txt"
    # Four chapters, the last three a copy of the first (a dump that repeats itself).
    dump.write_text(chapter("一") + "".join(chapter(n) for n in "二三四"), encoding="utf-8")
    code, said = prep(tmp_path, [dump])
    assert code == 0, said
    assert says(said, "No held-out (eval) file was written")
    assert "scene_markers" not in said
    assert says(said, "the script has 4 scenes, but samples were kept from only 1")
    assert says(said, "3 lost every sample to the filter: duplicate = 9")


def test_scenes_found_without_an_exchange_are_named_not_scene_markers(tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    quiet = "第二章\n海浪拍打着礁石。\n水菜萌：夏生，你在哪里？\n"
    dump.write_text(chapter("一") + quiet + "第三章\n远处传来海鸥的叫声。\n", encoding="utf-8")
    code, said = prep(tmp_path, [dump])
    assert code == 0, said
    assert "scene_markers" not in said
    assert says(said, "the script has 3 scenes, but samples were kept from only 1")
    assert says(said, "2 had no line of ATRI following one of the lead")

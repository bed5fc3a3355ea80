"""What `atri prep` says about a Ren'Py game's files that hold no dialogue (options.rpy,
gui.rpy, screens.rpy): one quiet line when other files have dialogue."""

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

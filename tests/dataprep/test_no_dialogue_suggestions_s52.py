"""Session 52: "no dialogue found" and a run's detection note suggested a format whose
"speakers" were another engine's commands (an ONScripter script read as Ren'Py gives
lines of `bgm`, `caption`, `lsp`): such a suggestion is left out, and one made names the
top speakers behind its count, for the user to judge."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import run_pipeline

# ONScripter's commands, the shape of a real Chinese ONScripter port's 0.txt.
ONSCRIPTER = (
    "*start\n"
    + '\ncaption "夏日的约定"\nbgm "bgm\\\\01.ogg"\nlsp 1,":a;bmp\\\\a.bmp",0,0\n'
    + 'dwave 1,"voice\\\\r0001.ogg"\n我走在路上。\\\n' * 10
)
RENPY = 'define e = Character("Eileen")\n' + 'e "Hello there."\ne "Fine day."\n' * 5


def _error(tmp_path: Path, text: str, fmt: str) -> str:
    script = tmp_path / "0.txt"
    script.write_text(text, encoding="utf-8")
    (error,) = run_pipeline(DataprepSettings(), [script], fmt=fmt).errors
    return error


def test_commands_read_as_speakers_are_no_suggestion(tmp_path: Path) -> None:
    error = _error(tmp_path, ONSCRIPTER, "plain")
    assert "no dialogue found as plain" in error and "--format" not in error


def test_a_suggestion_names_its_top_speakers(tmp_path: Path) -> None:
    error = _error(tmp_path, RENPY, "voice_list")
    assert "It reads as renpy (10 spoken lines; most by Eileen (10)): try --format renpy" in error


def test_plain_is_not_suggested_for_lines_of_commands(tmp_path: Path) -> None:
    script = tmp_path / "dump.txt"
    labelled = "*part1\n*part2\n*part3\n"
    script.write_text(labelled + "print: 1\nwait: 100\n" * 30, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Battler"], character_aliases=["Jessica"])
    notes = [n for n in run_pipeline(settings, [script]).notes if n.startswith("Read as")]
    assert len(notes) == 1 and "--format plain" not in notes[0]
    script.write_text(labelled + 'Battler: "Run!"\nJessica: "Why?!"\n' * 30, encoding="utf-8")
    notes = [n for n in run_pipeline(settings, [script]).notes if n.startswith("Read as")]
    assert "as kirikiri 0 (as plain most by Battler (30), Jessica (30))" in notes[0]

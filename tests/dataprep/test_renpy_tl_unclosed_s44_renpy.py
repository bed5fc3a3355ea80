"""Ren'Py translated say statements that never close their string, session 44: they are
named in their own translation file's warning, at their own lines, as an untranslated
file's are; they were counted, but named in the original's warning at the lines they
translate, whose strings are closed."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import run_pipeline
from dataprep.report import unclosed_strings_warning
from tests.dataprep.conftest import FIXTURES

GAME = FIXTURES / "s44_renpy" / "game"
TRANSLATION = GAME / "tl" / "chinese" / "script.rpy"
# The translated lines never closed (the translation's lines 11 and 23; they translate
# the original's lines 8 and 10).
UNCLOSED = [11, 23]


def _run(paths: list[Path]) -> tuple[list[str], int, dict[str, str | None]]:
    """(the run's warnings, lines dropped as never closed, each file's warning)."""
    settings = DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language="chinese", eval_ratio=0
    )
    result = run_pipeline(settings, paths)
    dropped = result.stats.character_lines_dropped[renpy_format.UNCLOSED_STRING]
    return result.warnings, dropped, {f.path: f.warning for f in result.stats.files}


def test_translated_lines_never_closed_are_named_in_their_own_files_warning() -> None:
    warnings, dropped, by_file = _run([GAME / "characters.rpy", GAME / "script.rpy", GAME / "tl"])
    named = unclosed_strings_warning(str(TRANSLATION), UNCLOSED)
    assert dropped == 2
    assert warnings == [named]
    assert by_file[str(GAME / "script.rpy")] is None
    assert by_file[str(TRANSLATION)] == named


def test_translated_lines_left_in_their_file_are_named_as_before() -> None:
    # The original not given: the translated lines stay in their file, named there.
    warnings, dropped, _ = _run([GAME / "characters.rpy", GAME / "tl"])
    assert dropped == 2
    assert warnings == [unclosed_strings_warning(str(TRANSLATION), UNCLOSED)]

"""Session 55: with `renpy_language = "original"`, a game's tl/chinese/common.rpy (its
`translate chinese strings:` block alone) failed as "no dialogue found as renpy … try
--format webgal": its `# game/script.rpy:9` comments read as WebGAL speakers. A
translation's files are now left out quietly when the original is read, and no format is
suggested from a Ren'Py file's comments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.loaded_scripts import load_scripts
from dataprep.no_dialogue import no_dialogue
from dataprep.pipeline import run_pipeline
from tests.dataprep.conftest import FIXTURES

HARBOR = FIXTURES / "harbor"
COMMON = HARBOR / "game" / "tl" / "chinese" / "common.rpy"
EILEEN = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A sailor girl."}}


def _prep(tmp_path: Path, language: str, *given: Path) -> tuple[int, str, dict[str, object]]:
    """`atri prep` over `given` (the harbor game by default) under `renpy_language`:
    its exit code, its output, and the stats it wrote."""
    (tmp_path / "eileen.json").write_text(json.dumps(EILEEN), encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[persona]\ncard = "eileen.json"\n[dataprep]\nlead_aliases = ["Max"]\n'
        f'character_aliases = ["Eileen"]\neval_ratio = 0\nrenpy_language = "{language}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    paths = [str(p) for p in given or (HARBOR,)]
    prep = CliRunner().invoke(
        app, ["--config", str(tmp_path / "config.toml"), "prep", *paths, "--out", str(out)]
    )
    stats = (
        json.loads((out / "eileen_stats.json").read_text("utf-8")) if prep.exit_code == 0 else {}
    )
    return prep.exit_code, prep.output, stats


def _replies(tmp_path: Path) -> list[str]:
    """Eileen's replies in the sharegpt file written."""
    samples = json.loads((tmp_path / "out" / "eileen_sharegpt.json").read_text("utf-8"))
    return [t["value"] for s in samples for t in s["conversations"] if t["from"] == "gpt"]


def _errors(stats: dict[str, object]) -> dict[str, object]:
    files = stats["files"]
    assert isinstance(files, list)
    return {Path(f["path"]).name + f" ({Path(f['path']).parent.name})": f["error"] for f in files}


def test_original_leaves_a_translations_string_file_out_quietly(tmp_path: Path) -> None:
    code, output, stats = _prep(tmp_path, "original")
    assert code == 0, output
    assert "--format" not in output
    assert "no dialogue" not in output
    assert "were left out" in output  # the one note on the translations
    assert set(_errors(stats).values()) == {None}, _errors(stats)
    read = next(s for s in stats["stages"] if s["stage"] == "read")  # type: ignore[attr-defined]
    assert read["count_out"] == read["count_in"] == 4
    replies = _replies(tmp_path)
    assert "Then let's go, Captain!" in replies
    # The original's lines only: none of the translations'.
    assert all(r.isascii() for r in replies), replies


def test_a_language_still_reads_its_translation(tmp_path: Path) -> None:
    code, output, stats = _prep(tmp_path, "chinese")
    assert code == 0, output
    assert set(_errors(stats).values()) == {None}, _errors(stats)
    assert "那就走吧，船长！" in _replies(tmp_path)


def test_auto_with_one_language_reads_it_and_its_strings(tmp_path: Path) -> None:
    game = HARBOR / "game"
    code, output, stats = _prep(tmp_path, "auto", game / "script.rpy", game / "tl" / "chinese")
    assert code == 0, output
    assert set(_errors(stats).values()) == {None}, _errors(stats)
    assert "那就走吧，船长！" in _replies(tmp_path)


def test_original_leaves_out_a_tl_file_of_no_translate_block(tmp_path: Path) -> None:
    # A translation's own settings, beside its blocks: no line, no translate block.
    game = tmp_path / "harbor" / "game"
    shutil.copytree(HARBOR / "game", game)
    (game / "tl" / "chinese" / "fonts.rpy").write_text(
        '# The font for Chinese: game/fonts/SourceHanSansSC.otf\ndefine gui.text_font = "SourceHanSansSC.otf"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language="original"
    )
    result = run_pipeline(settings, [game])
    assert result.problem is None, result.problem
    assert [f.error for f in result.files] == [None] * 5
    assert result.without_dialogue is None
    # The same file outside tl/ is a Ren'Py file of no line, as before.
    (game / "tl" / "chinese" / "fonts.rpy").rename(game / "fonts.rpy")
    fonts = next(f for f in run_pipeline(settings, [game]).files if f.path.endswith("fonts.rpy"))
    assert fonts.error is not None and "no dialogue found as renpy" in fonts.error


def test_no_format_is_suggested_from_a_renpy_files_comments() -> None:
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    (script,), _ = load_scripts([COMMON], settings, None)
    assert script.fmt == "renpy"
    said, _ = no_dialogue(script, ParseOptions())
    assert "no dialogue found as renpy" in said
    assert "--format" not in said, said
    assert "# game/script.rpy" not in said


def test_only_the_translations_given_under_original_says_what_to_give(tmp_path: Path) -> None:
    """game/tl alone under "original": every line is a translation left out. The run says
    so and what to give, not "no speaker matched … most frequent speakers are none"."""
    code, output, _ = _prep(tmp_path, "original", HARBOR / "game" / "tl")
    flat = " ".join(output.split())
    assert code == 1
    assert "Every line read is in a Ren'Py translation" in flat
    assert "give the game folder" in flat
    assert "'chinese' or 'japanese'" in flat
    assert "No speaker matched" not in flat
    assert not (tmp_path / "out" / "eileen_sharegpt.json").exists()

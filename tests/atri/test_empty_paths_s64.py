"""Session 64: an empty path argument is refused. `atri prep "$SCRIPT"` or
`--out "$OUT"` with the variable unset reached the command as "", which pathlib reads as
the current folder: prep read every file there as a script and wrote its dataset beside
them, saying "written to ..". `.` still names the current folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says

FIXTURE = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["prep", "plain_zh.txt", "--out", ""], "'--out'"),
        (["prep", "plain_zh.txt", "--out="], "'--out'"),
        (["prep", "plain_zh.txt", "-o", ""], "'--out'"),
        (["prep", ""], "'scripts'"),
        (["prep", "plain_zh.txt", ""], "'scripts'"),
        (["train", "--dataset", ""], "'--dataset'"),
        (["memory", "export", "--out", ""], "'--out'"),
    ],
)
def test_an_empty_path_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURE, tmp_path / "plain_zh.txt")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    shown = result.output.replace("│", "")  # the error box's borders
    assert says(shown, "is empty: name a file or folder (use . for this folder)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain_zh.txt"]


def test_a_dot_still_names_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURE, tmp_path / "plain_zh.txt")
    result = CliRunner().invoke(app, ["prep", ".", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "dataset_info.json").is_file()

"""Session 41: `~` in the CLI's path arguments is read as the config reads it, and
`atri train`'s flags follow [train]'s own rules with [train]'s own sentences."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app

SCRIPT = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"

runner = CliRunner(env={"COLUMNS": "400"})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of its own (HOME, and USERPROFILE for Windows' expanduser), and a
    working folder elsewhere: a `~` read literally lands in the working folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    (work / "config.toml").write_text("[dataprep]\neval_ratio = 0\n", encoding="utf-8")
    return home


def test_prep_reads_a_tilde_in_its_scripts_and_out_as_home(home: Path) -> None:
    """Quoted, or on Windows, `~` reached atri as it was typed, and `atri prep ~/x`
    looked for a folder named `~` in the working folder."""
    (home / "scripts").mkdir()
    shutil.copy(SCRIPT, home / "scripts" / SCRIPT.name)

    result = runner.invoke(app, ["prep", "~/scripts", "--out", "~/data"])

    assert result.exit_code == 0, result.output
    assert (home / "data" / "atri_sharegpt.json").is_file()
    assert not (Path.cwd() / "~").exists()


def test_train_reads_a_tilde_in_dataset_as_home(home: Path) -> None:
    result = runner.invoke(app, ["train", "--dataset", "~/missing.json"])

    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert f"{home / 'missing.json'}: not found; fix --dataset." in said, said


def test_an_export_out_with_a_tilde_goes_home(home: Path) -> None:
    result = runner.invoke(app, ["persona", "export", "--out", "~/card.json"])

    assert result.exit_code == 0, result.output
    assert (home / "card.json").is_file()
    assert not (Path.cwd() / "~").exists()


@pytest.mark.parametrize("command", ["train", "eval"])
@pytest.mark.parametrize("flag", ["--dataset", "--eval-dataset"])
def test_a_mistyped_dataset_flag_is_named_not_answered_with_pass_dataset(
    home: Path, command: str, flag: str
) -> None:
    """`atri eval --dataset nope.json` said "run `atri prep` or pass --dataset"."""
    result = runner.invoke(app, [command, flag, "~/nope.json"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"{home / 'nope.json'}: not found; fix {flag}." in said, said
    assert "pass --dataset" not in said

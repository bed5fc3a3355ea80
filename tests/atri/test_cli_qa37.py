"""QA pass 37: defaults that follow --config, secrets in the file, list hints that can be
followed, ids in either spelling, and a config or background path that is no file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import settings_from_dict

SCRIPT = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("train_lines", "folder"),
    [("", "data/dataset"), ('[train]\ndataset = "sets/atri_sharegpt.json"\n', "sets")],
)
def test_prep_writes_where_train_reads_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, train_lines: str, folder: str
) -> None:
    """Started elsewhere, `atri --config …/config.toml prep script.txt` wrote
    ./data/dataset, and `atri --config … train` right after found no dataset."""
    home = tmp_path / "echo"
    home.mkdir()
    config = home / "config.toml"
    config.write_text("[dataprep]\neval_ratio = 0\n" + train_lines, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)

    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(SCRIPT)]
    )
    assert result.exit_code == 0, result.output
    trained_on = settings_from_dict(tomllib.loads(config.read_text("utf-8")), root=home)
    assert trained_on.path(trained_on.train.dataset) == home / folder / "atri_sharegpt.json"
    assert (home / folder / "atri_sharegpt.json").is_file()
    assert not any(elsewhere.iterdir())
    # Nothing to add to `atri train`: its own default is the file just written.
    assert "Train on it with" not in result.output

    # --out, as every flag, is still read from the working folder.
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(SCRIPT), "--out", "mine"]
    )
    assert result.exit_code == 0, result.output
    assert (elsewhere / "mine" / "atri_sharegpt.json").is_file()
    assert "Train on it with" in result.output

"""Session 44: Ctrl-C that cuts short the deletion of a finished run's checkpoints said
"the run's checkpoints are removed" while GBs of them were still on disk (the next run
deletes them). Now the interruption says which, and `atri train` tells the user."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import model.training.runner as runner
from atri.cli import app
from model.training import run_folder
from model.training.errors import TrainingInterrupted
from model.training.run_folder import trash_for

REPO = Path(__file__).resolve().parents[3]


def ctrl_c(*args: Any, **kwargs: Any) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_during_the_deletion_says_checkpoints_are_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = tmp_path / "v1"
    (tmp_path / ".runs" / "aaaa" / "checkpoint-1").mkdir(parents=True)
    with monkeypatch.context() as m:
        m.setattr(run_folder.shutil, "rmtree", ctrl_c)
        with (
            pytest.raises(TrainingInterrupted) as cut,
            trash_for(tmp_path / ".runs", [version]) as trash,
        ):
            trash.take(tmp_path / ".runs" / "aaaa")
    assert cut.value.version == version and cut.value.checkpoints_left


def test_a_second_ctrl_c_stopping_the_deletion_after_the_first_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first Ctrl-C (once the version is in place) took the run folder into the trash;
    a second one stopped the trash's deletion."""
    version = tmp_path / "v1"
    (tmp_path / ".runs" / "aaaa" / "checkpoint-1").mkdir(parents=True)
    for second_ctrl_c, left in ((False, False), (True, True)):
        (tmp_path / ".runs" / "aaaa" / "checkpoint-1").mkdir(parents=True, exist_ok=True)
        with monkeypatch.context() as m:
            if second_ctrl_c:
                m.setattr(run_folder.shutil, "rmtree", ctrl_c)
            with (
                pytest.raises(TrainingInterrupted) as stopped,
                trash_for(tmp_path / ".runs", [version]) as trash,
            ):
                trash.take(tmp_path / ".runs" / "aaaa")
                raise TrainingInterrupted(None, version)
        assert stopped.value.checkpoints_left is left
        shutil.rmtree(tmp_path / ".runs")


@pytest.mark.parametrize("left", [False, True])
def test_atri_train_says_whether_the_checkpoints_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left: bool
) -> None:
    version = tmp_path / "adapters" / "20261204-010203"

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise TrainingInterrupted(None, version, checkpoints_left=left)

    monkeypatch.setattr(runner, "train", interrupted)
    config = tmp_path / "config.toml"
    config.write_text((REPO / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 130
    said = " ".join(result.output.split())
    assert f"{version} is complete" in said
    if left:
        assert "deleting the run's checkpoints was stopped" in said
        assert "the next `atri train` deletes the rest" in said
        assert "checkpoints are removed" not in said
    else:
        assert "the run's checkpoints are removed." in said

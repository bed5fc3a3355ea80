"""A full disk while `atri train --max-steps 2` saved a checkpoint suggested `atri train
--resume` without the flag; run as said, it refused the run ("max_steps 2 in the
checkpoint, 0 now"). The suggestion now repeats the flags that differ from the config,
as an interruption's does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transformers import Trainer
from typer.testing import CliRunner

from atri.cli import app
from atri.terminal import suggested_command
from tests.model.training.test_full_disk_s52 import ALMOST_NO_ROOM, TORCH_FULL
from tests.model.training.test_train_eval import versions_of, write_config


def test_the_resume_a_full_disk_suggests_runs_as_said(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=5, eval_steps=1, gradient_accumulation=1
    )
    real_save = Trainer._save_optimizer_and_scheduler

    def full_at_step_2(self: Trainer, output_dir: str, *args: Any, **kwargs: Any) -> None:
        if not output_dir.endswith("checkpoint-2"):
            return real_save(self, output_dir, *args, **kwargs)
        raise RuntimeError(TORCH_FULL)

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", full_at_step_2)
    monkeypatch.setattr("shutil.disk_usage", ALMOST_NO_ROOM)
    failed = CliRunner().invoke(app, ["--config", str(config), "train", "--max-steps", "2"])
    assert failed.exit_code == 1, failed.output
    said = suggested_command(config, "train", "--resume", "--max-steps", "2")
    assert f"`{said}`" in " ".join(failed.output.split())

    monkeypatch.undo()
    resumed = CliRunner().invoke(app, said.split()[1:])  # as the user pastes it
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming from step 1" in resumed.output
    assert len(versions_of(tmp_path / "adapters")) == 1

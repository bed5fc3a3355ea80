"""`atri train --max-steps 4 --eval-steps 1`, Ctrl-C after a checkpoint, said "`atri
train --resume` continues from step 2"; exactly that was refused: "--resume: … was
started with other settings (eval_steps 1 in the checkpoint, 50 now; …)". The hint now
repeats the flags the run was started with that differ from the config (s68), and
pasted as it is, it continues the run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

import model.training.progress as progress
from atri.cli import app
from model.adapters.versions import list_versions
from tests.cli_output import says
from tests.model.training.test_train_eval import InterruptAt, write_config

# Wide, so that rich does not cut the suggested command inside a path.
runner = CliRunner(env={"COLUMNS": "400", "ATRI_CONFIG": None})
HINT = re.compile(r"`(atri [^`]*train --resume[^`]*)` continues from step (\d+)\.")


def test_the_resume_hint_repeats_the_flags_that_differ_and_continues_the_run(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, tiny_model_dir, gradient_accumulation=1, lora_r=8)
    given = ["--max-steps", "4", "--eval-steps", "1", "--lora-r", "8"]  # lora_r as configured
    with monkeypatch.context() as patch:
        # Ctrl-C at the end of step 3, before its checkpoint, in place of the progress bar.
        patch.setattr(progress, "RichProgress", lambda console: InterruptAt(3))
        stopped = runner.invoke(app, ["--config", str(config), "train", *given])
    assert stopped.exit_code == 130, stopped.output
    found = HINT.search(stopped.output)
    assert found, stopped.output
    command, step = shlex.split(found.group(1)), found.group(2)
    assert step == "2"
    assert command[-5:] == ["--resume", "--max-steps", "4", "--eval-steps", "1"]
    assert "--lora-r" not in command  # the config's own value needs no flag
    assert command[:3] == ["atri", "--config", str(config.resolve())]

    resumed = runner.invoke(app, command[1:])
    assert resumed.exit_code == 0, resumed.output
    assert "other settings" not in resumed.output
    assert len(list_versions(tmp_path / "adapters")) == 1


def test_flags_for_the_output_folder_and_a_dataset_come_back_too(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, tiny_model_dir, gradient_accumulation=1, eval_steps=1)
    data = tmp_path / "data" / "atri_sharegpt.json"
    elsewhere = tmp_path / "other versions"
    given = ["--max-steps", "5", "--dataset", str(data), "--output-dir", str(elsewhere)]
    given += ["--no-packing"]  # packing is off in the config already
    monkeypatch.setattr(progress, "RichProgress", lambda console: InterruptAt(3))
    stopped = runner.invoke(app, ["--config", str(config), "train", *given])
    assert stopped.exit_code == 130, stopped.output
    found = HINT.search(stopped.output)
    assert found, stopped.output
    command = shlex.split(found.group(1))
    # The dataset is the config's own file: no flag; the output folder is another.
    assert command[3:] == ["train", "--resume", "--max-steps", "5", "--output-dir", str(elsewhere)]
    assert says(stopped.output, "continues from step 2.")

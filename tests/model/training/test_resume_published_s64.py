"""Session 64: `atri train --resume` of a run that had finished before its version was
published trains no step; its table said tokens/s 0 and training time 0.0 s."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.model.training.test_train_eval import write_config
from tests.model.training.test_training_qa38 import stopped_before_publishing


def test_the_table_of_a_run_only_published_names_no_speed(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, tiny_model_dir, max_steps=2, gradient_accumulation=1)
    stopped_before_publishing(config, monkeypatch)

    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["--config", str(config), "train", "--resume"]
    )
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.count("│") >= 3
    }
    assert rows["tokens/s"] == "-"
    assert rows["training time"] == "- (published from the finished run's checkpoint)"
    assert rows["resumed from step"] == "2"

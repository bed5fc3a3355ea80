"""Session 41: `--max-seq-length` and `[train] max_seq_length` are one rule said in one
sentence: any positive length is tried, and one that no conversation fits stops the run
naming the length the shortest needs, which then trains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.sharegpt import conversation, write
from tests.model.training.test_train_eval import write_config

runner = CliRunner(env={"COLUMNS": "400"})


@pytest.mark.parametrize("where", ["flag", "config"])
def test_zero_is_refused_in_the_same_words_from_a_flag_or_the_file(
    tmp_path: Path, tiny_model_dir: Path, where: str
) -> None:
    if where == "flag":
        config = write_config(tmp_path, tiny_model_dir)
        result = runner.invoke(app, ["-c", str(config), "train", "--max-seq-length", "0"])
        name = "--max-seq-length"
    else:
        config = write_config(tmp_path, tiny_model_dir, max_seq_length=0)
        result = runner.invoke(app, ["-c", str(config), "train"])
        name = "[train] max_seq_length"
    assert result.exit_code == 2, result.output
    assert says(result.output, f"{name} = 0: must be a positive integer")


def test_a_length_below_eight_is_tried_as_the_config_tries_it(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The flag refused < 8 (typer's "greater than or equal to 8") while the file took
    any length >= 1: the run's own check says what a length is too short for, and the
    length it names is the real minimum (it trains)."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, eval_steps=1)
    data = write(tmp_path / "short.json", [conversation([("嗯", "好")], "")] * 4)
    flags = ["-c", str(config), "train", "--dataset", str(data), "--eval-dataset", str(data)]

    short = runner.invoke(app, [*flags, "--max-seq-length", "1"])
    assert short.exit_code == 1, short.output
    assert says(short.output, "No training conversation fits max_seq_length = 1 tokens")
    needs = int(re.search(r"needs (\d+) tokens", " ".join(short.output.split()))[1])  # type: ignore[index]

    fits = runner.invoke(app, [*flags, "--max-seq-length", str(needs)])
    assert fits.exit_code == 0, fits.output
    assert says(fits.output, "version folder")

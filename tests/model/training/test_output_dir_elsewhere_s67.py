"""Session 67: `atri train --output-dir vers` wrote vers/<version>/, then `atri adapters
list` said "No adapter versions" and the worker kept serving the earlier one, with no
word that they read `[model] adapters_dir` only."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_train_eval import versions_of, write_config


def test_a_version_trained_outside_adapters_dir_says_where_it_is_not_served(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["q_proj"])
    elsewhere = tmp_path / "vers"
    result = CliRunner().invoke(
        app, ["--config", str(config), "train", "--output-dir", str(elsewhere)]
    )
    assert result.exit_code == 0, result.output
    assert len(versions_of(elsewhere)) == 1
    served = tmp_path / "adapters"
    assert says(
        result.stderr,
        f"{elsewhere} is not [model] adapters_dir ({served}): the worker, `atri eval` and "
        "`atri adapters` read versions from that folder only",
    )

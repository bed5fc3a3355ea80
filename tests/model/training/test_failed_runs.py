"""What a run that fails before its first checkpoint leaves behind: nothing to resume."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_train_eval import write_config


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_to_resume(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """peft refused target_modules after the run folder was made: every later run then
    said "1 unfinished training run(s) … `atri train --resume` continues one" of a run
    with no checkpoint to continue."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, target_modules=["nope_proj"])
    failed = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert failed.exit_code == 1, failed.output
    assert says(failed.output, "target_modules = ['nope_proj'] matches no layer")
    runs = tmp_path / "adapters" / ".runs"
    # No run folder, nor its lock file (it goes with the folder).
    assert not list(runs.iterdir())

    config.write_text(config.read_text().replace('["nope_proj"]', '["q_proj"]'))
    fixed = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert fixed.exit_code == 0, fixed.output
    assert "unfinished training run" not in fixed.output


def test_unfinished_runs_count_only_folders_with_a_checkpoint(tmp_path: Path) -> None:
    """A folder left by a run that failed before its first checkpoint (as runs did) is
    removed, not counted; one with a checkpoint is counted and kept."""
    from model.training.run_folder import unfinished_runs

    runs = tmp_path / ".runs"
    (runs / "interrupted" / "checkpoint-10").mkdir(parents=True)
    (runs / "interrupted" / "checkpoint-10" / "w.bin").write_bytes(b"12345")
    (runs / "failed").mkdir()
    (runs / "failed" / "run.json").write_text("{}", encoding="utf-8")
    assert unfinished_runs(runs / "current") == [(runs / "interrupted", 5)]
    assert not (runs / "failed").exists()
    assert (runs / "interrupted" / "checkpoint-10" / "w.bin").is_file()

"""What a review of `atri train` found, each reproduced first: a one-step run published an
adapter that had learnt nothing (its only update at a warmup learning rate of 0), a run
shorter than logging_steps reported its first, untrained step's loss as its final one,
and a run stopped while saving its first checkpoint kept its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from atri.config import TrainSettings, load_settings
from model.training.errors import TrainingInterrupted
from model.training.run_folder import (
    interruption_names_checkpoint,
    removed_unless_checkpointed,
    trash_for,
    unfinished_runs,
)
from model.training.runner import optimizer_steps, train, warmup_steps
from tests.model.training.test_train_eval import write_config


@pytest.mark.parametrize(
    ("settings", "rows", "updates", "warmup"),
    [
        ({"max_steps": 1}, 100, 1, 0),
        ({"max_steps": 2}, 100, 2, 0),
        ({"max_steps": 100}, 5, 100, 3),
        # An epoch of 16 rows at batch 4 and accumulation 4: one update.
        ({"epochs": 1.0}, 16, 1, 0),
        # 250 batches in updates of 4: 63 an epoch, the last of 2 batches (as Trainer).
        ({"epochs": 3.0}, 1000, 3 * 63, int(0.03 * 3 * 63)),
        (
            {"epochs": 1.0, "batch_size": 1, "gradient_accumulation": 2, "warmup_ratio": 0.2},
            9,
            5,
            1,
        ),
    ],
)
def test_warmup_never_takes_every_update(
    settings: dict[str, float], rows: int, updates: int, warmup: int
) -> None:
    t = TrainSettings(**settings)  # type: ignore[arg-type]
    assert optimizer_steps(t, rows) == updates
    assert warmup_steps(t, rows) == warmup < updates


def test_a_one_step_run_changes_the_adapter_and_logs_its_last_step(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    # Before: every lora_B was exactly 0 after one step (the update at learning rate 0),
    # and the final train loss was step 1's alone in any run under 5 steps.
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, gradient_accumulation=1)
    result = train(load_settings(config))
    weights = load_file(result.version_dir / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in weights.items() if "lora_B" in name]
    assert lora_b and any(float(tensor.abs().max()) > 0 for tensor in lora_b)

    config = write_config(tmp_path, tiny_model_dir, max_steps=3, gradient_accumulation=1)
    result = train(load_settings(config))
    logged = [entry["step"] for entry in result.log_history if "loss" in entry]
    assert logged == [1, 3]  # the first step (logging_first_step) and the last


def test_a_run_stopped_while_saving_its_first_checkpoint_leaves_no_folder(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / ".runs" / "abc"
    with (
        pytest.raises(TrainingInterrupted) as stopped,
        trash_for(run_dir.parent, []) as trash,
        interruption_names_checkpoint(run_dir, [], trash),
        removed_unless_checkpointed(run_dir, trash),
    ):
        cut_off = run_dir / "checkpoint-1"
        cut_off.mkdir(parents=True)
        (cut_off / "README.md").write_text("model card", encoding="utf-8")
        raise KeyboardInterrupt  # before trainer_state.json, written last
    assert stopped.value.step is None
    assert not run_dir.exists()  # before: kept, and counted by every later run
    assert unfinished_runs(tmp_path / ".runs" / "other") == []


class _Report:
    def markdown(self) -> str:
        return "# eval\n"

    def as_dict(self) -> dict[str, object]:
        return {}


def test_an_evaluation_whose_version_was_removed_says_so(tmp_path: Path) -> None:
    # Before: "free some space and run atri eval again", the disk having room.
    from model.evaluation.runner import EvalError, _write_report

    with pytest.raises(EvalError) as err:
        _write_report(tmp_path / "20260101-000000", _Report())  # type: ignore[arg-type]
    assert "the version's folder was removed while it was evaluated" in str(err.value)
    assert "free some space" not in str(err.value)

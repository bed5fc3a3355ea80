"""A second `atri train` of the run one is training stops before its base model loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atri.config import load_settings
from model.training.errors import TrainError
from tests.model.training.test_run_lock_s40 import start_holder
from tests.model.training.test_train_eval import interrupted_run


def test_a_second_run_of_a_run_in_progress_stops_before_loading_the_model(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: it "stops at once, naming the process that runs". It stopped only at the
    run's lock, taken once the base model had loaded and the data was tokenized (76 s
    on the offline model on a busy 2-core machine, minutes on a 7B one)."""
    import model.training.runner as runner

    config = interrupted_run(tmp_path, tiny_model_dir)  # leaves the run's folder
    [run] = (tmp_path / "adapters").glob(".runs/*/")
    loads: list[Any] = []

    def load_for_training(*args: Any) -> Any:
        loads.append(args)
        raise AssertionError("the base model was loaded")

    monkeypatch.setattr(runner, "load_for_training", load_for_training)
    holder = start_holder(run, windows=False)  # another `atri train` on this run
    try:
        for resume in (False, True):
            with pytest.raises(TrainError, match=rf"Another `atri train` \(process {holder.pid}\)"):
                runner.train(load_settings(config), resume=resume)
        assert loads == []
        # The same data with other settings is another run: it goes on (to the model).
        other = load_settings(config)
        other.train.learning_rate = 1e-3
        with pytest.raises(AssertionError, match="was loaded"):
            runner.train(other)
    finally:
        holder.kill()
        holder.wait()
    assert (run / "checkpoint-1").is_dir()  # the running run's checkpoints untouched

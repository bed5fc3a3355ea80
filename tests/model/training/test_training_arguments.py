"""The Trainer arguments `atri train` builds mean the same on every transformers release
that pyproject admits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from atri.config import TrainSettings
from model.training.hardware import Hardware
from model.training.runner import training_arguments

CPU = Hardware(device="cpu", precision="fp32", quantize_4bit=False, gradient_checkpointing=False)


@pytest.mark.parametrize("ratio", [TrainSettings().warmup_ratio, 0.1, 0.0])
def test_warmup_is_the_ratio_of_the_run(tmp_path: Path, ratio: float) -> None:
    # transformers 4.x read warmup_steps=0.03 as 0.03 steps (no warmup); 5.x reads a
    # value below 1 as a ratio of the run.
    t = TrainSettings(warmup_ratio=ratio)
    args = training_arguments(t, CPU, tmp_path / "run", has_eval=False)
    assert args.get_warmup_steps(100) == math.ceil(100 * ratio)
    assert args.get_warmup_steps(1000) == math.ceil(1000 * ratio)


def test_checkpointing_is_asked_for_under_the_name_this_transformers_reads(
    tmp_path: Path,
) -> None:
    # transformers 5.24 renamed gradient checkpointing to activation checkpointing and
    # warns at every run given the old name; the run must still checkpoint.
    import warnings

    hw = Hardware(device="cpu", precision="fp32", quantize_4bit=False, gradient_checkpointing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        args = training_arguments(TrainSettings(), hw, tmp_path / "run", has_eval=False)
    on = getattr(args, "activation_checkpointing", None) or args.gradient_checkpointing
    kwargs = getattr(args, "activation_checkpointing_kwargs", None)
    assert on is True
    assert (kwargs or args.gradient_checkpointing_kwargs) == {"use_reentrant": False}
    off = training_arguments(TrainSettings(), CPU, tmp_path / "run2", has_eval=False)
    assert not (getattr(off, "activation_checkpointing", None) or off.gradient_checkpointing)

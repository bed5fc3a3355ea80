"""A full disk while `atri train` saves: safetensors and torch say so in their own ways
(SafetensorError, RuntimeError from torch.save's zip writer), and those were 60-line
tracebacks where an OSError is one sentence. `--resume` then skips the checkpoint the
failed save left half written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from transformers import Trainer
from typer.testing import CliRunner

from atri.cli import app
from atri.terminal import suggested_command
from model.training.errors import TrainError
from model.training.run_folder import last_complete_checkpoint
from model.training.runner import write_errors_as_sentence
from tests.model.training.test_train_eval import versions_of, write_config

# shutil.disk_usage on a disk with 1 MiB free.
ALMOST_NO_ROOM = lambda path: shutil._ntuple_diskusage(100 << 20, 99 << 20, 1 << 20)  # noqa: E731
SAFETENSORS_FULL = "Error while serializing: I/O error: No space left on device (os error 28)"
TORCH_FULL = "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"


@pytest.mark.parametrize(
    "error",
    [
        SafetensorError(SAFETENSORS_FULL),
        Exception("No space left on device (os error 28)"),  # tokenizers' save
        RuntimeError(TORCH_FULL),
        RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
    ],
)
def test_what_safetensors_and_torch_raise_on_a_full_disk_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr("shutil.disk_usage", ALMOST_NO_ROOM)
    with pytest.raises(TrainError) as caught, write_errors_as_sentence(tmp_path, tmp_path / "run"):
        raise error
    said = str(caught.value)
    assert f"Training stopped writing {tmp_path} (No space left on device)" in said
    assert (
        "No checkpoint was kept, so the run must start again: free some space, then run `atri train`."
        in said
    )


def test_a_cut_short_optimizer_file_on_a_disk_with_room_does_not_blame_the_disk(
    tmp_path: Path,
) -> None:
    with pytest.raises(TrainError) as caught, write_errors_as_sentence(tmp_path, tmp_path / "run"):
        raise RuntimeError(TORCH_FULL)
    assert "(a file could not be written in full)" in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("CUDA out of memory"),
        SafetensorError("Error while deserializing header"),
        Exception("Connection refused (os error 111)"),
    ],
)
def test_other_errors_stay_themselves(tmp_path: Path, error: Exception) -> None:
    with pytest.raises(type(error)), write_errors_as_sentence(tmp_path, tmp_path / "run"):
        raise error


def checkpoint(run: Path, step: int, weights_cut: bool = False) -> Path:
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file({"w": torch.zeros(64)}, str(folder / "adapter_model.safetensors"))
    torch.save({"state": torch.zeros(64)}, folder / "optimizer.pt")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if weights_cut:
        weights = folder / "adapter_model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-40])
    return folder


def test_a_checkpoint_whose_weights_are_cut_short_is_skipped(tmp_path: Path) -> None:
    """trainer_state.json is written last, but a disk that lost what was not flushed can
    hold it beside weights cut short: resuming from those failed on load."""
    said: list[str] = []
    first = checkpoint(tmp_path, 1)
    second = checkpoint(tmp_path, 2, weights_cut=True)
    assert last_complete_checkpoint(tmp_path, said.append) == str(first)
    assert said == ["Removed checkpoint-2, a checkpoint whose saving was cut off."]
    assert not second.exists()


def test_an_optimizer_file_cut_short_is_skipped(tmp_path: Path) -> None:
    first = checkpoint(tmp_path, 1)
    second = checkpoint(tmp_path, 2)
    optimizer = second / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    assert last_complete_checkpoint(tmp_path, lambda line: None) == str(first)


def test_a_full_disk_while_checkpointing_then_resume(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The study: optimizer.pt of checkpoint-2 did not fit; the user saw a traceback, and
    the partial checkpoint-2 stayed in .runs/."""
    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )
    real_save = Trainer._save_optimizer_and_scheduler

    def full_at_step_2(self: Trainer, output_dir: str, *args: Any, **kwargs: Any) -> None:
        if not output_dir.endswith("checkpoint-2"):
            return real_save(self, output_dir, *args, **kwargs)
        (Path(output_dir) / "optimizer.pt").write_bytes(b"PK\x03\x04 half")
        raise RuntimeError(TORCH_FULL)

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", full_at_step_2)
    monkeypatch.setattr("shutil.disk_usage", ALMOST_NO_ROOM)
    failed = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert failed.exit_code == 1, failed.output
    flat = " ".join(failed.output.split())
    assert "(No space left on device); no version was written" in flat
    # With --config: the user's shell may be in another folder, under another config.
    assert f"`{suggested_command(config, 'train', '--resume')}`" in flat
    assert "Traceback" not in flat
    assert not isinstance(failed.exception, RuntimeError)
    adapters = tmp_path / "adapters"
    assert versions_of(adapters) == {}
    [run] = adapters.glob(".runs/*/")
    assert (run / "checkpoint-2").is_dir()  # what the failed save left

    monkeypatch.undo()
    resumed = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "Removed checkpoint-2" in resumed.output
    assert "Resuming from step 1" in resumed.output
    assert len(versions_of(adapters)) == 1


def test_a_full_disk_while_publishing_is_one_sentence(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft import PeftModel

    config = write_config(tmp_path, tiny_model_dir, max_steps=1)

    def full_disk(self: object, folder: str, **kwargs: object) -> None:
        raise SafetensorError(SAFETENSORS_FULL)

    monkeypatch.setattr(PeftModel, "save_pretrained", full_disk)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "(No space left on device); no version was written" in flat
    assert not isinstance(result.exception, SafetensorError)
    assert versions_of(tmp_path / "adapters") == {}

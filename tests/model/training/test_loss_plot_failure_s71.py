"""Session 71: with matplotlib broken (a NumPy mismatch, a half upgrade), `atri train`
trained, then died with a traceback drawing loss.png and published nothing: the adapter
was reachable only by `--resume` once matplotlib worked again. `atri prep` already says
its picture was not drawn and writes the rest; training now does the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import model.training.publishing as publishing
from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_train_eval import TRAIN_FLAGS, write_config


def test_a_loss_curve_that_cannot_be_drawn_does_not_cost_the_version(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_matplotlib(history: Any, path: Path, title: str = "") -> None:
        path.write_bytes(b"half a picture")  # what a failure part way leaves
        raise ImportError("simulated: matplotlib is broken")

    monkeypatch.setattr(publishing, "plot_loss", broken_matplotlib)
    config = write_config(tmp_path, tiny_model_dir)
    result = CliRunner().invoke(app, ["--config", str(config), "train", *TRAIN_FLAGS])
    assert result.exit_code == 0, result.output
    assert says(
        result.output,
        "loss.png was not drawn (ImportError: simulated: matplotlib is broken); the adapter "
        "and its manifest are written.",
    )
    [version] = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    assert (version / "adapter_model.safetensors").is_file()
    assert json.loads((version / "manifest.json").read_text(encoding="utf-8"))["version"]
    assert not (version / "loss.png").exists()

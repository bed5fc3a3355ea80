"""Session 42: the first run's conversion of the offline model is said without
--verbose. transformers shows its own bar for it ("Converting and de-quantizing GGUF
tensors") whatever atri sets; the line saying it happens once, and where, was shown only
with -v."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

import model.engines.offline_gguf as offline_gguf
from atri.cli import app


def test_the_offline_models_conversion_is_said_without_verbose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    said = CliRunner().invoke(app, ["persona", "show"])  # sets the CLI's logging up
    assert said.exit_code == 0, said.output
    converted: list[Path] = []
    monkeypatch.setattr(
        offline_gguf, "_convert_into", lambda source, tmp, *_: converted.append(tmp)
    )
    caplog.handler.setLevel(logging.INFO)
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)  # as without -v
    offline_gguf.offline_default_folder(tmp_path / "cache")
    assert converted
    assert "Converting the offline default model to safetensors" in caplog.text
    assert "(once)" in caplog.text

"""`atri persona show` prints the system prompt as it is: a user copies it (into
SillyTavern, a training script) or pipes it to a file. It used to be wrapped at the
terminal's width (80 columns in a pipe), a line break put inside its sentences."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from atri.config import load_settings
from model.character.persona import configured_persona

# Narrow, as a small terminal window is: the prompt's sentences are longer than this.
runner = CliRunner(env={"COLUMNS": "40", "ATRI_CONFIG": None})


def card_config(tmp_path: Path) -> Path:
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "Eileen",
            "description": "Eileen is a cheerful sailor in a harbour town; she calls Max her "
            "captain.",
        },
    }
    (tmp_path / "eileen.json").write_text(json.dumps(card), encoding="utf-8")
    config = tmp_path / "eileen.toml"
    config.write_text('[model]\nengine = "echo"\n[persona]\ncard = "eileen.json"\n')
    return config


def test_the_prompt_is_printed_unwrapped_and_as_written(tmp_path: Path) -> None:
    config = card_config(tmp_path)
    prompt = configured_persona(load_settings(config)).system_prompt()
    assert any(len(line) > 40 for line in prompt.splitlines())  # would be wrapped

    result = runner.invoke(app, ["--config", str(config), "persona", "show"])

    assert result.exit_code == 0, result.output
    assert result.stdout == prompt + "\n"


def test_the_packaged_card_too(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[model]\nengine = "echo"\n')
    prompt = configured_persona(load_settings(config)).system_prompt()

    result = runner.invoke(app, ["--config", str(config), "persona", "show"])

    assert result.exit_code == 0, result.output
    assert result.stdout == prompt + "\n"

"""`ATRI_DISCORD_TOKN=… atri serve` said only "no ATRI_DISCORD_TOKEN in the environment":
a slip in a variable's name now gets a sentence naming the one ATRI reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import ATRI_ENV, misspelt_environment
from bot.qq.config import Config, _env_name


def test_a_slip_names_the_variable_atri_reads() -> None:
    said = misspelt_environment(["ATRI_DISCORD_TOKN", "ATRI_API_KEY", "PATH", "ATRI_CONFIG"])
    assert said == [
        "ATRI_API_KEY is set in the environment, but ATRI reads ATRI_API_KEYS.",
        "ATRI_DISCORD_TOKN is set in the environment, but ATRI reads ATRI_DISCORD_TOKEN.",
    ]


def test_atri_s_own_names_and_the_qq_plugin_s_keys_are_no_slip() -> None:
    plugin_keys = [_env_name(field) for field in Config.model_fields]
    assert misspelt_environment([*ATRI_ENV, *plugin_keys]) == []


def test_a_command_says_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRI_ADMIN_TOKN", "x")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["persona", "show"])
    assert "ATRI_ADMIN_TOKN is set in the environment, but ATRI reads ATRI_ADMIN_TOKEN." in (
        " ".join(result.output.split())
    )

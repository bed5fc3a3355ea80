"""With no config.toml at all, ATRI runs on its built-in defaults and says so: the chat
names its config under the header, and `atri memory` does not blame a config.toml that
does not exist."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from atri.config import CONFIG_ENV
from bot import serve
from tests.atri.memory_cli import runner


def test_memory_with_no_config_says_the_defaults_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    from atri.cli import app

    result = runner.invoke(app, ["memory", "list"])
    assert result.exit_code != 0
    assert f"No config.toml in {tmp_path}: built-in defaults are used" in result.output
    assert "Is this the config.toml" not in result.output


def test_memory_with_a_config_still_asks_whether_it_is_the_bots_one(tmp_path: Path) -> None:
    from tests.atri.memory_cli import atri

    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "none.sqlite3"\n', encoding="utf-8")
    code, said = atri(config, "memory", "list")
    assert code != 0 and "Is this the config.toml your bots run with?" in said


def _header(monkeypatch: pytest.MonkeyPatch, config_file: str) -> list[str]:
    seen: dict[str, Any] = {}

    async def console_run(*_: Any, about: list[str], **__: Any) -> None:
        seen["about"] = about

    class Worker:
        async def character(self) -> Any:
            from model.protocol import Character

            return Character(name="ATRI", greeting="", user_name="you", language="en")

        async def history(self, _scope: Any) -> list[Any]:
            return []

        async def status(self) -> Any:
            from model.protocol import WorkerStatus

            return WorkerStatus(engine="echo", base_model="base")

    monkeypatch.setattr(serve, "run_console", console_run)
    asyncio.run(serve.console_chat(Worker(), Console(), config_file))  # type: ignore[arg-type]
    return list(seen["about"])


def test_the_chat_header_names_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    about = _header(monkeypatch, "/home/you/atri/config.toml")
    assert about[0].startswith("ATRI · base model base")
    assert about[1] == "config: /home/you/atri/config.toml"


def test_the_chat_header_says_when_it_runs_on_built_in_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    about = _header(monkeypatch, "")
    assert about[1] == (
        f"config: built-in defaults (no config.toml in {tmp_path}; `atri config init` writes one)"
    )

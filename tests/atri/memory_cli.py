"""One way for the `atri memory` tests to make a config whose database holds some
conversations, and to run a command on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from model.memory import Memory

# Wide, so rich does not wrap the sentences the tests look for.
runner = CliRunner(env={"COLUMNS": "400"})


def memory_config(tmp_path: Path, fill: Callable[[Memory], Awaitable[None]]) -> Path:
    """A config.toml in `tmp_path` whose [memory] path is a real SQLite file that `fill`
    has written to."""
    path = tmp_path / "config.toml"
    path.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")

    async def open_and_fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await fill(memory)

    asyncio.run(open_and_fill())
    return path


def atri(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """`atri --config CONFIG ARGS…`: its exit code and what it printed."""
    result = runner.invoke(app, ["--config", str(config), *args], input=stdin)
    return result.exit_code, result.output

"""One way for the `atri memory` tests to make a config whose database holds some
conversations, to run a command on it, and to make a backup file to import."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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


def big_backup(scopes: int, per_scope: int) -> dict[str, Any]:
    """A backup of `scopes` conversations of `per_scope` messages each, said long ago."""
    said = 1_700_000_000.0
    return {
        "format": "atri-memory",
        "version": 9,
        "scopes": [
            {
                "scope": f"qq:user:{s}",
                "messages": [
                    {
                        "role": "user" if i % 2 == 0 else "assistant",
                        "user_id": str(s) if i % 2 == 0 else "",
                        "display_name": "A",
                        "content": f"message {i} of {s}",
                        "created_at": said + i,
                    }
                    for i in range(per_scope)
                ],
                "summaries": [],
            }
            for s in range(scopes)
        ],
        "room_lines": [],
        "purges": [],
        "channel_modes": [],
    }

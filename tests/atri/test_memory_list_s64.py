"""Session 64: `atri memory list` for a bot in thousands of groups. Rich took 27 s to
draw a table of 18,000 scopes, and nothing narrowed the list."""

from __future__ import annotations

from pathlib import Path

import pytest

import atri.memory_commands as memory_commands
from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config


async def groups(memory: Memory) -> None:
    for group in ("1", "2", "12"):
        for user in ("7", "8"):
            scope = f"qq:chan:{group}:user:{user}"
            await memory.append(scope, "user", user, f"我在{group}群")


def test_a_prefix_narrows_the_list(tmp_path: Path) -> None:
    config = memory_config(tmp_path, groups)
    code, out = atri(config, "memory", "list", "qq:chan:1:")
    assert code == 0, out
    assert "qq:chan:1:user:7" in out and "qq:chan:1:user:8" in out
    assert "qq:chan:12:" not in out and "qq:chan:2:" not in out
    code, out = atri(config, "memory", "list", "discord:")
    assert code == 0 and "No conversations stored yet under 'discord:'." in out


def test_a_long_list_is_plain_aligned_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = memory_config(tmp_path, groups)
    monkeypatch.setattr(memory_commands, "PLAIN_LIST_ROWS", 3)
    code, out = atri(config, "memory", "list")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["scope", "live", "archived", "room", "lines", "last", "message"]
    assert len(lines) == 7 and "│" not in out
    assert {line.split()[0] for line in lines[1:]} == {
        f"qq:chan:{g}:user:{u}" for g in ("1", "2", "12") for u in ("7", "8")
    }

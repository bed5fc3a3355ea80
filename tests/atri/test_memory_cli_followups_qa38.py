"""Follow-ups of QA 38 on `atri memory`: `show` and `export` of a scope nothing is
stored under say so (as `reset` and `purge` do), and `purge` tells messages and room
lines apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from model.memory import Memory
from model.room import RoomBounds
from tests.atri.memory_cli import atri, memory_config
from tests.cli_output import says


@pytest.fixture
def config(tmp_path: Path) -> Path:
    async def fill(memory: Memory) -> None:
        await memory.append_many(
            "qq:user:2", [("user", "2", "Bo", "hi", ""), ("assistant", "", "", "hello", "")]
        )
        for room in ("qq:chan:g1", "qq:chan:g2"):
            await memory.room.add(room, "qq", "1", "甲", "甲的话", RoomBounds())
            await memory.room.add(room, "qq", "2", "乙", "乙的话", RoomBounds())

    return memory_config(tmp_path, fill)


def test_show_of_an_unknown_scope_names_it_and_close_ones(config: Path) -> None:
    """`atri memory show qq:user:22` (a typo) said "No messages in scope" and exited 0,
    as if the scope were known and empty."""
    code, out = atri(config, "memory", "show", "qq:user:22")
    assert code == 1 and "Traceback" not in out
    assert says(out, "No scope qq:user:22 is remembered (see `atri memory list`).")
    assert says(out, "Did you mean qq:user:2?")
    assert "No messages" not in out
    code, out = atri(config, "memory", "show", "qq:user:2")
    assert code == 0 and "hello" in out


def test_export_of_an_unknown_scope_writes_nothing(config: Path, tmp_path: Path) -> None:
    """`atri memory export qq:user:22 --out f.json` wrote an export with no messages and
    said it had: a backup of nothing, taken for the conversation."""
    out_file = tmp_path / "export.json"
    code, out = atri(config, "memory", "export", "qq:user:22", "--out", str(out_file))
    assert code == 1 and "Traceback" not in out
    assert says(out, "No scope qq:user:22 is remembered (see `atri memory list`).")
    assert says(out, "Did you mean qq:user:2?")
    assert not out_file.exists()
    code, out = atri(config, "memory", "export", "qq:user:22")  # to stdout: no JSON either
    assert code == 1 and "{" not in out and "atri-memory" not in out
    # A known scope, and a room (a channel's key holding only room lines), still export.
    for scope in ("qq:user:2", "qq:chan:g1"):
        code, out = atri(config, "memory", "export", scope, "--out", str(out_file))
        assert code == 0 and out_file.exists(), out
        out_file.unlink()


def test_purge_counts_messages_and_room_lines_apart(config: Path, tmp_path: Path) -> None:
    """`atri memory purge` said "4 messages deleted" for 2 messages and 2 room lines."""
    code, out = atri(config, "memory", "purge", "qq:user:2", "--yes")
    assert code == 0, out
    assert says(out, "Purged qq:user:2: 2 messages and 2 room lines deleted.")
    code, out = atri(config, "memory", "purge", "qq:user:1", "--yes")  # heard only
    assert code == 0 and says(out, "Purged qq:user:1: 0 messages and 2 room lines deleted.")

    async def stored() -> list[object]:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            return [
                *await memory.all_messages("qq:user:2"),
                *await memory.room.all_lines("qq:chan:g1"),
                *await memory.room.all_lines("qq:chan:g2"),
            ]

    assert asyncio.run(stored()) == []


def test_show_of_a_reset_scope_points_at_its_archived_messages(config: Path) -> None:
    """After a reset, `show` said "No messages in scope", though `--archived` showed
    them: nothing hinted that they were kept."""
    assert atri(config, "memory", "reset", "qq:user:2")[0] == 0
    code, out = atri(config, "memory", "show", "qq:user:2")
    assert code == 0 and says(out, "--archived shows it")
    code, out = atri(config, "memory", "show", "qq:user:2", "--archived")
    assert code == 0 and "hello" in out

"""The scopes `atri memory` names for one nothing is stored under: those of its own
platform first, and every scope holding the id it names, whatever the platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config
from tests.cli_output import says

GROUP = "920000000000000001"  # a QQ group and, in server 910…, a Discord channel
QQ_GROUP = f"qq:chan:{GROUP}"
DISCORD_CHANNEL = f"discord:chan:910000000000000001/{GROUP}"


def _turn(text: str) -> list[tuple[str, str, str, str, str]]:
    return [("user", "940000000000000002", "Mei", text, ""), ("assistant", "", "", "ok", "")]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """`[memory] scope = "channel"`: one QQ group and one Discord channel, same id."""

    async def fill(memory: Memory) -> None:
        await memory.append_many(QQ_GROUP, _turn("qq group"), "q1")
        await memory.append_many(DISCORD_CHANNEL, _turn("discord channel"), "d1")

    return memory_config(tmp_path, fill)


def test_a_discord_channel_typed_as_a_qq_group_suggests_the_discord_one_first(
    config: Path, tmp_path: Path
) -> None:
    """`atri memory reset discord:chan:920…` (the QQ form) named the QQ group first:
    pasting it would have reset the wrong platform's memory."""
    before = (tmp_path / "mem.sqlite3").read_bytes()
    code, out = atri(config, "memory", "reset", f"discord:chan:{GROUP}")
    assert code == 1 and "Traceback" not in out
    assert says(out, f"Did you mean {DISCORD_CHANNEL} or {QQ_GROUP}?"), out
    assert (tmp_path / "mem.sqlite3").read_bytes() == before
    # And the other way round: the QQ group first for a QQ key.
    code, out = atri(config, "memory", "show", f"qq:chan:910000000000000001/{GROUP}")
    assert code == 1 and says(out, f"Did you mean {QQ_GROUP} or {DISCORD_CHANNEL}?"), out


def test_a_bare_id_suggests_every_scope_holding_it(config: Path) -> None:
    """`atri memory show 920…` named only the QQ group: the longer Discord key fell under
    difflib's cutoff."""
    code, out = atri(config, "memory", "show", GROUP)
    assert code == 1 and "Traceback" not in out
    assert says(out, f"No scope {GROUP} is remembered (see `atri memory list`).")
    assert says(out, f"Did you mean {QQ_GROUP} or {DISCORD_CHANNEL}?"), out


def test_many_scopes_holding_an_id_are_counted_past_the_first_five(tmp_path: Path) -> None:
    """`[memory] scope = "user_in_channel"`: one person's own conversation in 8 groups."""

    async def fill(memory: Memory) -> None:
        for group in range(8):
            await memory.append_many(f"qq:chan:{group}:user:42", _turn("hi"), f"r{group}")
        await memory.append_many("discord:user:42", _turn("hi"), "d")

    config = memory_config(tmp_path, fill)
    code, out = atri(config, "memory", "purge", "discord:chan:7:user:42", "--yes")
    assert code == 1 and "Traceback" not in out
    said = " ".join(out.split())
    # Its own platform's first, then five in all, and how many more.
    assert "Did you mean discord:user:42, qq:chan:7:user:42, qq:chan:" in said, said
    assert said.count("qq:chan:") == 4 and "or one of 4 more?" in said, said
    code, out = atri(config, "memory", "show", "42")
    assert code == 1 and "or one of 4 more?" in " ".join(out.split()), out

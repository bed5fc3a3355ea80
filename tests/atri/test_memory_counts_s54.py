"""`atri memory reset`, `purge` and `export` count as a person writes: "1 room line",
not "1 room lines" (what a reset of a channel overheard once said). A real SQLite file
filled through the service, as the worker fills it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.atri.memory_cli import atri
from tests.model.memory.test_member_conversations_s41 import (
    cli_config,
    fill_member_conversations,
)


@pytest.fixture
def config(echo_settings: Settings, tmp_path: Path) -> Path:
    """Max asked her once in channel 7 (his own conversation: one message and her
    reply), and Ann was overheard there once (one room line)."""

    async def fill() -> None:
        async with await ChatService.open(echo_settings, EchoEngine()) as service:
            await service.chat(
                ChatRequest(platform="qq", user_id="42", text="Ahoy!", channel_id="7")
            )
            await service.chat(
                ChatRequest(
                    platform="qq", user_id="43", text="Nice wind.", channel_id="7", addressed=False
                )
            )

    asyncio.run(fill())
    path = tmp_path / "cli.toml"
    path.write_text(f'[memory]\npath = "{Path(echo_settings.memory.path).as_posix()}"\n')
    return path


def squeezed(out: str) -> str:
    return " ".join(out.split())


def test_a_reset_and_a_purge_count_one_room_line(config: Path) -> None:
    code, out = atri(config, "memory", "reset", "qq:chan:7")
    assert code == 0, out
    assert "Reset qq:chan:7: 0 messages and 1 room line archived." in squeezed(out)

    code, out = atri(config, "memory", "purge", "qq:chan:7", "--yes")
    assert code == 0, out
    assert "Purged qq:chan:7: 0 messages and 1 room line deleted." in squeezed(out)


def test_an_export_counts_one_room_line(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "all.json"
    code, out = atri(config, "memory", "export", "--out", str(target))
    assert code == 0, out
    # Max's message and her reply, no summary, Ann's line.
    assert f"Wrote 2 messages, 0 summaries and 1 room line to {target}." in squeezed(out)

    code, out = atri(config, "memory", "reset", "qq:user:42")
    assert code == 0, out
    assert "Reset qq:user:42: 2 messages archived." in squeezed(out)


def test_an_export_names_one_members_conversation(echo_settings: Settings, tmp_path: Path) -> None:
    """Under `scope = "user_in_channel"` user 2 spoke only in group g1: their export says
    "from 1 member's own conversation", not "from 1 members' own conversations"."""
    asyncio.run(fill_member_conversations(echo_settings))
    target = tmp_path / "user2.json"
    code, out = atri(
        cli_config(echo_settings, tmp_path), "memory", "export", "qq:user:2", "--out", str(target)
    )
    assert code == 0, out
    assert "of them from 1 member's own conversation)" in squeezed(out), out

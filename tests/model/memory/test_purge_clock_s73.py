"""A backup taken before a purge brought the purged words back when it was restored if
this machine's clock was off (QA s73, clock): the import compares each line's time with
the purge's, both from the clock, so a purge made while it was behind, or of words stored
while it ran ahead (a dual-boot PC's local-time hardware clock before NTP), left out
nothing. A purge is kept as just after the newest time stored when that is later."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from unittest import mock

import pytest

from atri.config import Settings
from model.memory import Memory, parse_export
from model.protocol import ChatRequest, ScopeRef
from model.room import RoomBounds
from model.service import ChatService

DAY = 24 * 3600.0


async def backup_of(memory: Memory) -> object:
    return parse_export(json.loads(json.dumps(await memory.backup())), "backup.json")


async def said_by_42(memory: Memory) -> None:
    await memory.append_many(
        "qq:chan:9", [("user", "42", "A", "my phone is 555", ""), ("assistant", "", "", "ok", "")]
    )
    await memory.append_many("qq:user:42", [("user", "42", "A", "my address is 1 Road", "")])
    await memory.room.add("qq:chan:9", "qq", "42", "A", "a line of theirs", RoomBounds())


async def purge_person(memory: Memory) -> None:
    await memory.purge("qq:user:42")


async def purge_member(memory: Memory) -> None:
    await memory.purge("qq:user:42")
    await memory.purge_member("qq:chan:9", "42")


async def purge_channel(memory: Memory) -> None:
    await memory.purge("qq:chan:9")
    await memory.purge("qq:user:42")


@pytest.mark.parametrize("purge", [purge_person, purge_member, purge_channel])
@pytest.mark.parametrize(
    ("stored_off", "purged_off"),
    [(0.0, -2 * DAY), (3600.0, 0.0)],
    ids=["purged-while-the-clock-was-behind", "stored-while-the-clock-ran-ahead"],
)
async def test_a_restore_after_a_purge_leaves_the_purged_out_whatever_the_clock(
    tmp_path: Path,
    purge: Callable[[Memory], Awaitable[None]],
    stored_off: float,
    purged_off: float,
) -> None:
    now = time.time()
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        with mock.patch("time.time", return_value=now + stored_off):
            await said_by_42(memory)
            backup = await backup_of(memory)
        with mock.patch("time.time", return_value=now + purged_off):
            await purge(memory)
        result = await memory.import_export(backup)  # type: ignore[arg-type]
        texts = [
            m.content for s in ("qq:chan:9", "qq:user:42") for m in await memory.all_messages(s)
        ]
        lines = [line.content for line in await memory.room.all_lines("qq:chan:9")]

    assert texts == [] and lines == [], (texts, lines)
    assert result.counts.purged_messages == 3 and result.counts.purged_room_lines == 1


@pytest.mark.parametrize("kind", ["user", "user_in_channel", "channel"])
async def test_a_channels_purge_holds_with_the_clock_behind_under_every_scope(
    echo_settings: Settings, kind: str
) -> None:
    """A channel's purge (the service's path, under each `[memory] scope`) read its time
    again after deleting its room lines and messages (review s73): made with the clock
    an hour behind, a restore brought the channel back."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    now = time.time()
    async with await ChatService.open(echo_settings) as service:
        for text in ("a line of the group", "亚托莉 my phone is 555"):
            said = ChatRequest(
                platform="qq",
                user_id="42",
                text=text,
                channel_id="9",
                addressed=text.startswith("亚托莉"),
            )
            await service.chat(said)
        backup = await backup_of(service.memory)
        with mock.patch("time.time", return_value=now - 3600):
            await service.purge(ScopeRef(platform="qq", channel_id="9"))
        await service.memory.import_export(backup)  # type: ignore[arg-type]
        lines = await service.memory.room.all_lines("qq:chan:9")
        scopes = [row["scope"] for row in await service.memory.scopes()]
        group = [s for s in scopes if s.startswith("qq:chan:9")]
        kept = [m.content for s in group for m in await service.memory.all_messages(s)]
    assert lines == [] and kept == [], (lines, kept)

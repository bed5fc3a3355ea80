"""Under each `[memory] scope`, restoring a backup taken before a purge (of a channel, of
a person in it, of a person everywhere) adds back nothing the purge deleted: no message,
no room line; what it kept (a DM, another channel) and what was said after it stay. A
real SQLite file each."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import parse_export
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService

KINDS = ["user", "user_in_channel", "channel"]
PURGES = {
    "channel": ScopeRef(platform="qq", channel_id="g1"),
    "member": ScopeRef(platform="qq", user_id="1", channel_id="g1"),
    "person": ScopeRef(platform="qq", user_id="1"),
}


def said(text: str, user: str, channel: str = "", addressed: bool = True) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=f"人{user}",
        text=text,
        channel_id=channel,
        addressed=addressed,
    )


async def everything(service: ChatService) -> set[tuple[str, str]]:
    """(scope or room, text) of every message and room line stored."""
    memory = service.memory
    found = set()
    for row in await memory.scopes():
        found |= {(row["scope"], m.content) for m in await memory.all_messages(row["scope"])}
    for room in ("qq:chan:g1", "qq:chan:g2"):
        found |= {(room, line.content) for line in await memory.room.all_lines(room)}
    return found


@pytest.mark.parametrize("purged", PURGES)
@pytest.mark.parametrize("kind", KINDS)
async def test_an_older_backup_restored_after_a_purge_adds_back_nothing_it_deleted(
    echo_settings: Settings, kind: str, purged: str
) -> None:
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        for user in ("1", "2"):
            await service.chat(said(f"群里对她说 {user}", user, "g1"))
            await service.chat(said(f"群里闲聊 {user}", user, "g1", addressed=False))
            await service.chat(said(f"二群闲聊 {user}", user, "g2", addressed=False))
            await service.chat(said(f"私聊 {user}", user))
        backup = parse_export(await service.memory.backup(), "backup.json")
        before = await everything(service)
        await service.purge(PURGES[purged])
        assert await everything(service) < before
        await service.chat(said("清除后又说", "1", "g1"))  # talks again: kept
        await service.chat(said("清除后闲聊", "1", "g1", addressed=False))
        now = await everything(service)

        result = await service.memory.import_export(backup)  # type: ignore[arg-type]
        assert await everything(service) == now
        assert result.counts.purged_messages + result.counts.purged_room_lines > 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reset_is_no_purge_to_an_import(echo_settings: Settings, kind: str) -> None:
    """`atri memory reset` (or a bot's) hides a conversation, it does not forget anyone:
    an import leaves nothing out for it, and nothing is kept in `purges`."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await service.chat(said("群里对她说", "1", "g1"))
        await service.chat(said("私聊", "1"))
        backup = parse_export(await service.memory.backup(), "backup.json")
        await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        await service.reset(ScopeRef(platform="qq", user_id="1"))
        await service.memory.reset("qq:user:1")

        result = await service.memory.import_export(backup)  # type: ignore[arg-type]
        assert result.counts.purged_keys == [] and result.counts.purged_messages == 0
        assert (await service.memory.backup())["purges"] == []

"""QA round 39 on Discord, through the real discord.py client and the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.discord.text import MESSAGE_LIMIT
from model.service import ChatService
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    ADMIN_ROLE_ID,
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION

# Servers ATRI is in besides the fake's own, none of them holding a listed role.
OTHER_GUILDS = 5


def other_guild(fake: FakeDiscord, number: int) -> dict[str, Any]:
    """Another server, its own ids for everything (roles, channels) but ATRI's member."""
    guild = fake._guild()
    offset = number * 1_000
    guild_id = GUILD_ID + offset
    guild["id"] = str(guild_id)
    guild["name"] = f"server {number}"
    guild["threads"] = []
    guild["roles"] = [role | {"id": str(int(role["id"]) + offset)} for role in guild["roles"]]
    guild["roles"][0]["id"] = str(guild_id)  # @everyone has the server's id
    guild["channels"] = [
        channel | {"id": str(int(channel["id"]) + offset), "guild_id": str(guild_id)}
        for channel in guild["channels"]
    ]
    return guild


def member_lookups(fake: FakeDiscord) -> list[str]:
    return [c.path for c in fake.calls if c.method == "GET" and c.path.startswith("/guilds/")]


async def test_a_dm_asks_only_the_servers_that_hold_a_listed_role(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    """With role lists, a DM's author is looked up in ATRI's servers: in every one of
    them, one request each, though a role in the lists belongs to one server. A bot in
    a hundred servers made a hundred requests (most refused) before answering a DM, and
    a stranger sharing no server with her cost as many."""
    for number in range(1, OTHER_GUILDS + 1):
        await fake_discord.dispatch("GUILD_CREATE", other_guild(fake_discord, number))
    await asyncio.sleep(0.2)
    assert len(client.guilds) == OTHER_GUILDS + 1
    discord_settings.discord.allowed_roles = [ADMIN_ROLE_ID]
    await fake_discord.send_message(ADMIN_ID, "私聊", in_guild=False)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID))
    assert reply.body["content"] == ECHO + "私聊"  # still let through by the listed role
    assert member_lookups(fake_discord) == [f"/guilds/{GUILD_ID}/members/{ADMIN_ID}"]


LINK = "https://en.wikipedia.org/wiki/Python_(programming_language)"


async def test_a_link_at_the_limit_of_a_long_reply_is_never_cut(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Every "." was a sentence end, "example." of a link too: a reply whose link crossed
    the 2,000-character limit was split inside it, and neither part led anywhere. A
    run of words with no sentence end in it was cut hard, inside a word."""
    words = "word " * 395  # the echo's prefix and these end 20 characters short of the limit
    text = f"{words}see {LINK} and the version 3.14159 there"
    await fake_discord.send_message(MEMBER_ID, f"{MENTION} {text}", mentions=(BOT_ID,))
    parts = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    contents = [c.body["content"] for c in parts]
    assert all(len(part) <= MESSAGE_LIMIT for part in contents)
    assert LINK in contents[1] and "3.14159" in contents[1]
    assert contents[0].endswith("word see")
    assert " ".join(contents) == ECHO + " ".join(text.split())


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.05)


async def test_her_reply_a_moderator_deletes_leaves_her_memory(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A member talks her into something and a moderator deletes her reply: she kept it
    in her memory all the same, and went on from it in her next replies. Deleting one
    part of a long reply leaves the other parts."""
    posted: list[dict[str, Any]] = []
    make = fake_discord._bot_message

    def bot_message(channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        posted.append(make(channel_id, body))
        return posted[-1]

    monkeypatch.setattr(fake_discord, "_bot_message", bot_message)
    scope = f"discord:user:{MEMBER_ID}"

    async def replies() -> list[str]:
        history = await echo_service.memory.history(scope)
        return [m.content for m in history if m.role == "assistant"]

    await fake_discord.send_message(MEMBER_ID, f"{MENTION} 说句坏话", mentions=(BOT_ID,))
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    long = "第一部分。" + "长" * 1990 + "。第二部分。"  # two parts
    await fake_discord.send_message(MEMBER_ID, f"{MENTION} {long}", mentions=(BOT_ID,))
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
    await until(lambda: _count(replies, 2))
    first, part_one, part_two = posted
    where = {"channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID)}
    await fake_discord.dispatch("MESSAGE_DELETE", {"id": first["id"], **where})
    await fake_discord.dispatch("MESSAGE_DELETE_BULK", {"ids": [part_two["id"]], **where})
    await until(lambda: _count(replies, 1, part_one["content"]))
    assert await replies() == [part_one["content"]]
    history = [m.content for m in await echo_service.memory.history(scope)]
    assert "说句坏话" not in history  # the exchange is gone whole, as a reset would


async def _count(replies: Callable[[], Awaitable[list[str]]], n: int, first: str = "") -> bool:
    got = await replies()
    return len(got) == n and (not first or got[0] == first)


async def test_her_speaking_up_deleted_by_a_moderator_leaves_her_memory(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What she says unasked (room context) is stored as a reply like any other, but the
    client did not treat it as one: deleted, it stayed in her memory (and cut short by
    Discord, it was remembered whole)."""
    discord_settings.discord.room_context = True
    echo_service.speak_up.channels = frozenset({str(CHANNEL_ID)})
    echo_service.speak_up.probability = 0.0
    posted: list[dict[str, Any]] = []
    make = fake_discord._bot_message

    def bot_message(channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        posted.append(make(channel_id, body))
        return posted[-1]

    monkeypatch.setattr(fake_discord, "_bot_message", bot_message)
    scope = f"discord:user:{MEMBER_ID}"

    async def remembered() -> list[str]:
        return [m.content for m in await echo_service.memory.history(scope)]

    await fake_discord.send_message(MEMBER_ID, "ATRI 今天好热")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await until(lambda: _has(remembered, 2))
    assert await remembered() == ["ATRI 今天好热", ECHO + "ATRI 今天好热"]
    where = {"channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID)}
    await fake_discord.dispatch("MESSAGE_DELETE", {"id": posted[0]["id"], **where})
    await until(lambda: _has(remembered, 0))
    assert await remembered() == []


async def _has(remembered: Callable[[], Awaitable[list[str]]], n: int) -> bool:
    return len(await remembered()) == n

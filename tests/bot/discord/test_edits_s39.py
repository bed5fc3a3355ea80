"""A message she answered, then edited by its author: her memory keeps the new text; and
a DM whose author's roles Discord will not tell."""

from __future__ import annotations

import asyncio
import logging

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.service import ChatService
from tests.bot.discord.fake_discord import (
    ADMIN_ROLE_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION, edited, say

SCOPE = f"discord:user:{MEMBER_ID}"


async def stored_texts(service: ChatService, expected: list[str]) -> list[str]:
    """The live conversation's texts once they are `expected` (or a while later)."""
    for _ in range(100):
        texts = [m.content for m in await service.memory.history(SCOPE)]
        if texts == expected:
            break
        await asyncio.sleep(0.02)
    return texts


@pytest.mark.parametrize("in_guild", [True, False], ids=["server", "DM"])
async def test_an_edit_of_a_message_she_answered_leaves_only_its_new_text_in_her_memory(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService, in_guild: bool
) -> None:
    """The edit (a phone number taken out) changed nothing she remembered: the old text
    stayed in every later prompt and in the database."""
    channel = CHANNEL_ID if in_guild else DM_CHANNEL_ID
    asked = await say(fake_discord, MEMBER_ID, "我的电话是 13800000000", in_guild=in_guild)
    await fake_discord.wait_for_calls(is_message_to(channel))
    before = ["我的电话是 13800000000", ECHO + "我的电话是 13800000000"]
    assert await stored_texts(echo_service, before) == before
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", edited(fake_discord, asked, f"{MENTION} 电话私信你")
    )
    after = ["电话私信你", ECHO + "我的电话是 13800000000"]
    assert await stored_texts(echo_service, after) == after
    every = [m.content for m in await echo_service.memory.all_messages(SCOPE)]
    assert not any("13800000000" in text for text in every if not text.startswith(ECHO))
    # Not answered again for the edit.
    await say(fake_discord, MEMBER_ID, "对照", in_guild=in_guild)
    await fake_discord.wait_for_calls(is_message_to(channel), count=2)
    await asyncio.sleep(0.1)
    texts = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(channel))]
    assert texts == [ECHO + "我的电话是 13800000000", ECHO + "对照"]


async def test_an_edit_that_changes_no_text_changes_nothing(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    """A link's embed loading reaches the bot as an update too: the stored text stays."""
    asked = await say(fake_discord, MEMBER_ID, "看这个 https://example.com")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await fake_discord.dispatch("MESSAGE_UPDATE", asked | {"embeds": []})
    await asyncio.sleep(0.1)
    texts = [m.content for m in await echo_service.memory.history(SCOPE)]
    assert texts == ["看这个 https://example.com", ECHO + "看这个 https://example.com"]


@pytest.mark.parametrize("lists", ["allowed_roles", "blocked_roles"])
async def test_a_dm_whose_author_s_roles_discord_will_not_tell_is_one_log_line(
    fake_discord: FakeDiscord,
    client: AtriClient,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    lists: str,
) -> None:
    """A refused member lookup raised out of the role check: the DM got no answer and
    the log a traceback ("could not be read"), at every DM. Now one sentence; the DM is
    still not let through (a blocked role could not be told apart), and the next DM asks
    again."""
    setattr(discord_settings.discord, lists, [ADMIN_ROLE_ID])
    fake_discord.member_lookups_refused = True
    with caplog.at_level(logging.WARNING):
        await fake_discord.send_message(MEMBER_ID, "私聊", in_guild=False)
        for _ in range(100):
            if any("did not say which roles" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [
        f"Discord did not say which roles user {MEMBER_ID} holds in the server "
        f"{client.guilds[0].name} (HTTP 403); their DM is left unanswered, and asked about "
        "again at their next one."
    ]
    assert not any(r.exc_info for r in caplog.records)
    fake_discord.member_lookups_refused = False
    await fake_discord.send_message(MEMBER_ID, "又来了", in_guild=False)
    if lists == "blocked_roles":
        # Waited for, not slept on: on a loaded machine the reply took over 0.3 s.
        replies = await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID), timeout=30)
        assert [c.body["content"] for c in replies] == [ECHO + "又来了"]
    else:
        await asyncio.sleep(0.3)
        assert not fake_discord.calls_matching(is_message_to(DM_CHANNEL_ID))

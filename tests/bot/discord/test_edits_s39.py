"""A message she answered, then edited by its author: her memory keeps the new text."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord.adapter import AtriClient
from model.service import ChatService
from tests.bot.discord.fake_discord import (
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

"""An @everyone or @here is not an @ of her: a server's announcements get no reply
(discord.py's `mentioned_in` counts them, so `is_mentioned` must not use it)."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord.adapter import AtriClient
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, say


@pytest.mark.parametrize("ping", ["@everyone", "@here"])
async def test_a_ping_of_everyone_that_does_not_mention_her_gets_no_reply(
    fake_discord: FakeDiscord, client: AtriClient, ping: str
) -> None:
    announcement = fake_discord.message_payload(MEMBER_ID, f"{ping} 今晚八点开会")
    announcement["mention_everyone"] = True  # Discord sets it for @here as for @everyone
    await fake_discord.dispatch("MESSAGE_CREATE", announcement)
    # A message to her after it: once it is answered, the announcement has been read.
    await say(fake_discord, MEMBER_ID, "你在吗")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await asyncio.sleep(0.1)
    sent = fake_discord.calls_matching(is_message_to(CHANNEL_ID))
    assert [c.body["content"] for c in sent] == [ECHO + "你在吗"]

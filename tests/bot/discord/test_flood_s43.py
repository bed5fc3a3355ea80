"""QA round 43: a member flooding her in a channel, through the real discord.py client
and the fake Discord. The messages the worker turns away (rate-limited, told once) get
a reaction, not a reply: they used up the channel's replies all the same, and she then
stayed silent to everyone else there for the rest of the minute."""

from __future__ import annotations

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
    is_reaction,
    is_typing_in,
)
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_fairness_s44 import settled


async def test_a_flood_turned_away_leaves_the_channels_replies_to_others(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    discord_settings.worker.rate_limit_per_minute = 1
    # 5: the member's share (3) is not what turns the flood away, and without giving its
    # turned-away messages back the 2 posted and 4 turned away would fill the channel.
    discord_settings.discord.max_replies_per_minute = 5
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        await say(fake_discord, MEMBER_ID, "第0条")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))  # answered
        await say(fake_discord, MEMBER_ID, "第1条")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)  # told once
        for n in range(2, 6):
            await say(fake_discord, MEMBER_ID, f"第{n}条")
        await fake_discord.wait_for_calls(is_reaction)  # one a minute
        await settled(fake_discord)  # every one of the flood turned away
        await say(fake_discord, ADMIN_ID, "轮到我了")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert contents == [ECHO + "第0条", discord_settings.worker.busy_reply, ECHO + "轮到我了"]


async def test_many_messages_at_once_show_typing_once(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    """Each message she answered showed typing on its own: as many requests at once as
    messages, which Discord's rate limit on them answers by holding back the rest."""
    # Each chat waits this long for its batch: the member's messages are answered one
    # after another, so all of them are being answered at once for over a second.
    discord_settings.worker.batch_window_ms = 400
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        for n in range(4):
            await say(fake_discord, MEMBER_ID, f"第{n}条")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=4)
    assert len(fake_discord.calls_matching(is_typing_in(CHANNEL_ID))) == 1

"""Session 44: one member cannot take every reply in a channel. With the defaults (20
messages a minute per person, 20 replies a minute per channel) a member sending 20 took
them all, and she was silent to everyone else there for the rest of the minute."""

from __future__ import annotations

import asyncio

from atri.config import DiscordSettings, Settings, WorkerSettings
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, say


def with_default_limits(settings: Settings) -> int:
    """The limits of a config left as shipped (the tests' echo worker has none); both 20."""
    settings.worker.rate_limit_per_minute = WorkerSettings().rate_limit_per_minute
    settings.discord.max_replies_per_minute = DiscordSettings().max_replies_per_minute
    assert settings.worker.rate_limit_per_minute == settings.discord.max_replies_per_minute
    return settings.discord.max_replies_per_minute


async def settled(fake: FakeDiscord, quiet_seconds: float = 1.0) -> None:
    """Until the client has made no request for `quiet_seconds`."""
    seen = -1
    while seen != len(fake.calls):
        seen = len(fake.calls)
        await asyncio.sleep(quiet_seconds)


async def test_a_member_flooding_a_channel_leaves_replies_to_the_others(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    per_minute = with_default_limits(discord_settings)
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        for n in range(per_minute):
            await say(fake_discord, MEMBER_ID, f"第{n}条")
        # Her share, and once (session 46) the notice that it is used up.
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=per_minute // 2 + 1)
        await settled(fake_discord)  # every one of the flood answered or turned away
        await say(fake_discord, ADMIN_ID, "轮到我了")
        await fake_discord.wait_for_calls(
            is_message_to(CHANNEL_ID), count=per_minute // 2 + 2, timeout=10
        )
        await settled(fake_discord)
    *flood, other = [
        c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))
    ]
    answers = [text for text in flood if text != lines().share_used_up]
    assert len(flood) - len(answers) == 1  # told once, not at each message past the share
    assert len(set(answers)) == len(answers) == per_minute // 2  # her share
    assert set(answers) <= {ECHO + f"第{n}条" for n in range(per_minute)}
    assert other == ECHO + "轮到我了"


async def test_a_dm_keeps_the_whole_cap(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    """A DM has one person in it: they get every reply their own limit allows."""
    per_minute = with_default_limits(discord_settings)
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        for n in range(per_minute):
            await fake_discord.send_message(MEMBER_ID, f"第{n}条", in_guild=False)
        await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID), count=per_minute)
    contents = [
        c.body["content"] for c in fake_discord.calls_matching(is_message_to(DM_CHANNEL_ID))
    ]
    assert contents == [ECHO + f"第{n}条" for n in range(per_minute)]

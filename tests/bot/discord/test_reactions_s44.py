"""Session 44: the ⏳ put on messages the worker turned away is one request each: a
burst of them queued under Discord's rate limit ahead of her answers. One a minute per
person now."""

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
)
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_fairness_s44 import settled


async def test_a_burst_turned_away_gets_one_reaction_per_person(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    discord_settings.worker.rate_limit_per_minute = 1
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        posted = 0
        for author in (MEMBER_ID, ADMIN_ID):
            for n in range(2):  # answered, then told she is busy
                await say(fake_discord, author, f"第{n}条")
                posted += 1
                await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=posted)
        authors: dict[str, int] = {}
        for _ in range(8):
            for author in (MEMBER_ID, ADMIN_ID):
                sent = await say(fake_discord, author, "又来了")
                authors[str(sent["id"])] = author
        await fake_discord.wait_for_calls(is_reaction, count=2)
        await settled(fake_discord)
    reacted = [authors[c.path.split("/")[4]] for c in fake_discord.calls_matching(is_reaction)]
    assert sorted(reacted) == sorted([MEMBER_ID, ADMIN_ID])  # one each, not 16
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert contents == [ECHO + "第0条", discord_settings.worker.busy_reply] * 2

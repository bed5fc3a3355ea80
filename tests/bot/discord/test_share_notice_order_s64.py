"""Session 64, through the real discord.py client and the fake Discord: the notice that
a member's share of a channel's replies is used up follows the answers it speaks of. It
was posted the moment the share was counted, before any of them."""

from __future__ import annotations

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, say


async def test_the_share_notice_comes_after_the_answers(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    discord_settings.discord.max_replies_per_minute = 6  # a member's share is 3
    # Each chat waits this long for its batch: all are being answered when the 4th comes.
    discord_settings.worker.batch_window_ms = 400
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        for n in range(5):
            await say(fake_discord, MEMBER_ID, f"flood {n}")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=4)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert sorted(contents[:3]) == [f"{ECHO}flood {n}" for n in range(3)], contents
    assert "回了你好多句" in contents[3], contents

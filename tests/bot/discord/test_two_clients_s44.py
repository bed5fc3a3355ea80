"""Session 44: two clients in one process (two bots, or a test's two) keep their own
state. The typing shown per channel was a module global: the second bot answering in a
channel where the first was typing showed none of its own."""

from __future__ import annotations

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
    is_typing_in,
)
from tests.bot.discord.test_chat import MENTION


async def test_two_clients_answering_in_one_channel_each_show_typing(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    # Each chat waits this long for its batch: both are being answered at once.
    discord_settings.worker.batch_window_ms = 400
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        first = fake_discord._connection  # the fake dispatches to the latest client
        async with running_client(fake_discord, service, discord_settings):
            second = fake_discord._connection
            assert first is not None and second is not None and first is not second
            for connection, author in ((first, MEMBER_ID), (second, ADMIN_ID)):
                message = fake_discord.message_payload(
                    author, f"{MENTION} 你好", mentions=(BOT_ID,)
                )
                await connection.dispatch("MESSAGE_CREATE", message)
            await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    assert len(fake_discord.calls_matching(is_typing_in(CHANNEL_ID))) == 2

"""Session 54: the fake Discord's messages are stamped with the time they are sent, as
Discord's are, their snowflake ids agreeing with their `timestamp`. Every message used to
carry the time the fake was made: a room line heard after a reset counted as said before
it, and the worker rightly dropped it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import discord

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import ADMIN_ID, MEMBER_ID, FakeDiscord
from tests.bot.discord.test_commands import answer_to
from tests.bot.discord.test_room import live_lines, room_lines


async def test_a_messages_id_and_timestamp_are_when_it_was_sent() -> None:
    fake = FakeDiscord()
    await asyncio.sleep(0.3)  # made a while before its first message
    first = fake.message_payload(MEMBER_ID, "早")
    await asyncio.sleep(0.3)
    second = fake.message_payload(MEMBER_ID, "早上好")
    times = []
    for payload in (first, second):
        from_id = discord.utils.snowflake_time(int(payload["id"]))
        assert datetime.fromisoformat(payload["timestamp"]) == from_id
        times.append(from_id)
    assert abs((times[0] - datetime.now(UTC)).total_seconds()) < 1.0
    assert (times[1] - times[0]).total_seconds() >= 0.29
    # Made within one millisecond, two ids still differ and keep their order.
    ids = [fake.next_id() for _ in range(50)]
    assert ids == sorted(set(ids))


async def test_a_line_heard_after_a_channel_reset_is_kept_and_seen(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    discord_settings.discord.room_context = True
    async with running_client(fake_discord, echo_service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "昨天的事")
        await room_lines(echo_service, 1)
        await asyncio.sleep(0.05)  # the reset a moment after the line, as in life
        reset = await answer_to(fake_discord, ADMIN_ID, "atri-admin", "reset-channel")
        assert "1" in reset.body["data"]["content"]
        await asyncio.sleep(0.05)
        await fake_discord.send_message(MEMBER_ID, "今天的事")
        assert await live_lines(echo_service, ["今天的事"]) == ["今天的事"]

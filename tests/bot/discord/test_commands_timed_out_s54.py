"""Session 54: timed out by a moderator, she still answers slash commands (an interaction's
response and follow-ups are webhooks, which a timeout does not stop: Discord's
"Interactions and Bot Users"), so an admin can still reset memory or turn a channel off,
while chat there is only heard: no generation, no post. Through the real discord.py
client and the fake Discord, which sends the interaction with her permissions as a
timeout leaves them (View Channel, Read Message History)."""

from __future__ import annotations

import asyncio

from atri.config import Settings
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    APPLICATION_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_ID,
    FakeDiscord,
    is_callback,
    is_followup,
    is_message_to,
)
from tests.bot.discord.test_cannot_post_s53 import in_a_while
from tests.bot.discord.test_chat import say
from tests.bot.discord.test_commands import SlowWorker, answer_to, chat
from tests.bot.discord.test_room import room_lines


async def here(service: ChatService, user: int) -> list[object]:
    """Their conversation in CHANNEL_ID."""
    scope = service.scope_for("discord", str(user), str(CHANNEL_ID), str(GUILD_ID))
    return list(await service.memory.history(scope))


async def test_timed_out_her_commands_answer_and_chat_is_only_heard(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    discord_settings.discord.room_context = True
    discord_settings.memory.scope = "user_in_channel"  # a server's admin resets it
    engine = CountingEcho()
    async with (
        await ChatService.open(discord_settings, engine=engine) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        await chat(fake_discord, MEMBER_ID, "你好")
        await chat(fake_discord, ADMIN_ID, "你好")
        assert engine.generations == 2
        assert len(await here(service, MEMBER_ID)) == 2
        fake_discord.bot_timed_out_until = in_a_while()
        await fake_discord.dispatch(
            "GUILD_MEMBER_UPDATE", {**fake_discord.bot_member(), "guild_id": str(GUILD_ID)}
        )
        await asyncio.sleep(0.1)  # the update handled

        # "all" while timed out: every message there is for her, and none is generated.
        await answer_to(
            fake_discord, ADMIN_ID, "atri-admin", "channel", string_options={"mode": "all"}
        )
        await say(fake_discord, MEMBER_ID, "在吗")
        await fake_discord.send_message(MEMBER_ID, "大家好")
        lines_heard = await room_lines(service, 2)
        assert await service.channel_modes("discord") == {str(CHANNEL_ID): "all"}
        other = await answer_to(
            fake_discord, ADMIN_ID, "atri-admin", "reset-user", user_option=MEMBER_ID
        )
        # Their exchange and the two lines heard while she was timed out.
        assert other.body["data"]["content"] == lines().user_reset_done.format(count=4)
        assert await here(service, MEMBER_ID) == []
        own = await answer_to(fake_discord, ADMIN_ID, "atri", "reset")
        assert "不会再接着" in own.body["data"]["content"]
        assert await here(service, ADMIN_ID) == []
        status = await answer_to(fake_discord, ADMIN_ID, "atri", "status")
        assert "引擎：echo" in status.body["data"]["content"]
    assert sorted(line.content for line in lines_heard) == ["在吗", "大家好"]
    assert engine.generations == 2  # the two chats before the timeout
    assert len(fake_discord.calls_matching(is_message_to(CHANNEL_ID))) == 2


async def test_timed_out_a_slow_command_defers_and_follows_up(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    """Past Discord's first deadline: the deferral and the follow-up go out as ever."""
    fake_discord.bot_timed_out_until = in_a_while()
    worker = SlowWorker(echo_service, delay=0.3)
    async with running_client(fake_discord, worker, discord_settings, defer_after=0.05):
        payload = await fake_discord.run_command(MEMBER_ID, "atri", "reset")
        (followup,) = await fake_discord.wait_for_calls(is_followup)
    (callback,) = fake_discord.calls_matching(is_callback)
    assert callback.body["type"] == 5 and callback.body["data"]["flags"] & EPHEMERAL
    assert followup.path == f"/webhooks/{APPLICATION_ID}/{payload['token']}"
    assert "不会再接着" in followup.body["content"]

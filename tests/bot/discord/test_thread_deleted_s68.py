"""Session 68: a thread (or a channel) a moderator deleted left what she kept of it:
Discord sends no delete of its messages, so her memory of a member still held what
they told her there, and the thread's room lines stayed. Now the client asks the worker
to forget the channel (`Worker.forget_channel`), through the real discord.py client and
the fake gateway's THREAD_DELETE and CHANNEL_DELETE."""

from __future__ import annotations

import asyncio
import logging

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.protocol import ChannelSetting
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    THREAD_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_cannot_post_s53 import adapter_lines
from tests.bot.discord.test_chat import ECHO, UnreachableWorker, say
from tests.bot.discord.test_forgotten_threads_s56 import channel_delete, thread_delete
from tests.bot.discord.test_room import room_lines

SCOPE = f"discord:user:{MEMBER_ID}"
THREAD_ROOM = f"discord:chan:{GUILD_ID}/{THREAD_ID}"
CHANNEL_ROOM = f"discord:chan:{GUILD_ID}/{CHANNEL_ID}"
SECRET = "my address is 1 Secret Road"


async def history_once(service: ChatService, count: int) -> list[str]:
    """The member's live conversation once it holds `count` messages (or a while later)."""
    for _ in range(100):
        history = [m.content for m in await service.memory.history(SCOPE)]
        if len(history) == count:
            break
        await asyncio.sleep(0.05)
    return history


async def tell_the_thread(fake: FakeDiscord, service: ChatService) -> None:
    """The tester's steps: the member's address answered in thread 雨天, the admin's plain
    line heard there; and the member's DM, which stays."""
    await say(fake, MEMBER_ID, SECRET, channel_id=THREAD_ID)
    await fake.wait_for_calls(is_message_to(THREAD_ID))
    await fake.send_message(ADMIN_ID, "下雨了", channel_id=THREAD_ID)
    await room_lines(service, 1, THREAD_ROOM)
    await say(fake, MEMBER_ID, "你好", in_guild=False)
    await fake.wait_for_calls(is_message_to(DM_CHANNEL_ID))
    assert len(await history_once(service, 4)) == 4


@pytest.mark.parametrize("cached", ["cached", "no longer cached"])
async def test_a_deleted_thread_takes_her_exchange_and_its_room_lines(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
    cached: str,
) -> None:
    """The exchange is found by the messages the client holds or, once its cache moved
    on, by her reply posted there."""
    discord_settings.discord.room_context = True
    await tell_the_thread(fake_discord, echo_service)
    await echo_service.set_channel_mode(
        ChannelSetting(platform="discord", channel_id=str(THREAD_ID), mode="all")
    )
    if cached != "cached":
        client._connection._messages.clear()  # type: ignore[union-attr]
    await fake_discord.dispatch(*thread_delete())
    assert await history_once(echo_service, 2) == ["你好", ECHO + "你好"]
    assert await echo_service.memory.room.recent(THREAD_ROOM, 50, 3600) == []
    assert await echo_service.channel_modes("discord") == {}


async def test_a_deleted_channel_takes_its_threads(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    await tell_the_thread(fake_discord, echo_service)
    await say(fake_discord, MEMBER_ID, "频道里的话")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await fake_discord.send_message(ADMIN_ID, "频道里的闲话")
    await room_lines(echo_service, 1, CHANNEL_ROOM)
    assert len(await history_once(echo_service, 6)) == 6
    await fake_discord.dispatch(*channel_delete(fake_discord, CHANNEL_ID))
    assert await history_once(echo_service, 2) == ["你好", ECHO + "你好"]
    for room in (THREAD_ROOM, CHANNEL_ROOM):
        assert await echo_service.memory.room.recent(room, 50, 3600) == []


async def test_a_worker_that_fails_to_forget_a_channel_is_a_log_line(
    fake_discord: FakeDiscord, discord_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with running_client(fake_discord, UnreachableWorker(), discord_settings) as client:
        await fake_discord.dispatch(*thread_delete())
        for _ in range(100):
            if adapter_lines(caplog, logging.ERROR):
                break
            await asyncio.sleep(0.05)
        assert not client.is_closed()
    (said,) = adapter_lines(caplog, logging.ERROR)
    assert said == f"could not forget deleted Discord channel {THREAD_ID}"

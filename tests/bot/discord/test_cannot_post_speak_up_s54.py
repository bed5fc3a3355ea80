"""Session 54: where she cannot post (timed out, no Send Messages, no Send Messages in
Threads in a thread) she no longer speaks up either (`[room] speak_up_channels`): the
worker generated a reply nobody asked for, and the post was refused. The message is a
room line, and the speak-up's cooldown is not spent on it. Through the real discord.py
client and the fake Discord, on a worker that counts its generations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    GUILD_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_ID,
    FakeDiscord,
    is_a_post,
    is_message_to,
)
from tests.bot.discord.test_cannot_post_s53 import in_a_while
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_room import room_lines
from tests.model.server.conftest import ADMIN_TOKEN


@pytest.fixture
async def service(discord_settings: Settings, engine: CountingEcho) -> AsyncIterator[ChatService]:
    discord_settings.discord.room_context = True
    async with await ChatService.open(discord_settings, engine=engine) as opened:
        # Her name makes her speak up (cooldown allowing); nothing else does.
        opened.speak_up.channels = frozenset({str(CHANNEL_ID), str(LISTEN_CHANNEL_ID)})
        opened.speak_up.probability = 0.0
        yield opened


def room_of(channel_id: int) -> str:
    return f"discord:chan:{GUILD_ID}/{channel_id}"


async def test_timed_out_she_does_not_speak_up_and_does_when_the_timeout_ends(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    fake_discord.bot_timed_out_until = in_a_while()
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "ATRI 今天好热")
        lines = await room_lines(service, 1)
        assert [line.content for line in lines] == ["ATRI 今天好热"]
        assert engine.generations == 0
        fake_discord.bot_timed_out_until = None
        await fake_discord.dispatch(
            "GUILD_MEMBER_UPDATE", {**fake_discord.bot_member(), "guild_id": str(GUILD_ID)}
        )
        await asyncio.sleep(0.1)  # the update handled
        await fake_discord.send_message(MEMBER_ID, "ATRI 还在吗")
        # At once: the speak-up withheld before spent none of the 300 s cooldown.
        (post,) = await fake_discord.wait_for_calls(is_a_post)
    # The echo of her prompt: the line heard while timed out, then the message itself.
    assert post.body["content"].startswith(ECHO)
    assert "ATRI 今天好热" in post.body["content"]
    assert post.body["content"].endswith("ATRI 还在吗")
    assert engine.generations == 1


async def test_timed_out_a_mention_that_names_her_is_not_answered_by_speaking_up(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    """A message for her where she cannot post is heard: her name in it made the worker
    speak up to it, a generation for a post that was refused."""
    fake_discord.bot_timed_out_until = in_a_while()
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "ATRI 在吗")
        await room_lines(service, 1)
        await asyncio.sleep(0.1)
    assert engine.generations == 0
    assert fake_discord.calls_matching(is_message_to(CHANNEL_ID)) == []


async def test_without_send_messages_in_one_channel_she_speaks_up_only_in_the_other(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    fake_discord.denied_to_bot[LISTEN_CHANNEL_ID] = SEND_MESSAGES
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "ATRI 这里呢", channel_id=LISTEN_CHANNEL_ID)
        await room_lines(service, 1, room_of(LISTEN_CHANNEL_ID))
        await fake_discord.send_message(MEMBER_ID, "ATRI 那里呢")
        (post,) = await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert post.path == f"/channels/{CHANNEL_ID}/messages"
    assert engine.generations == 1


async def test_without_send_messages_in_threads_she_does_not_speak_up_in_a_thread(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    """The channel's listing covers its threads; Send Messages in Threads decides there."""
    fake_discord.denied_to_bot[CHANNEL_ID] = SEND_MESSAGES_IN_THREADS
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "ATRI 线程里", channel_id=THREAD_ID)
        await room_lines(service, 1, room_of(THREAD_ID))
        await asyncio.sleep(0.1)
    assert engine.generations == 0
    assert fake_discord.calls_matching(is_a_post) == []


async def test_over_the_relay_a_worker_elsewhere_does_not_speak_up_either(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    """The bot and `atri worker` apart: the flag travels in the request to `/chat`."""
    secrets = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
    fake_discord.bot_timed_out_until = in_a_while()
    async with serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url:
        relay = discord_settings.worker.model_copy(update={"url": url})
        async with (
            HttpWorker(relay, secrets) as remote,
            running_client(fake_discord, remote, discord_settings),
        ):
            await fake_discord.send_message(MEMBER_ID, "ATRI 今天好热")
            await room_lines(service, 1)
            await asyncio.sleep(0.1)
    assert engine.generations == 0
    assert fake_discord.calls_matching(is_a_post) == []

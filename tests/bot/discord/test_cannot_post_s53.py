"""Session 53: timed out by a moderator, or denied Send Messages (Send Messages in Threads
in a thread), she asked the worker for an answer to every message for her there (minutes
of CPU on a home machine, others waiting), then the post failed with a warning each time.
Now she does not generate there: the message is heard as any other (room context), and
one INFO line per channel per 10 minutes says why. A reply under way when the timeout
starts ends with one INFO line, and memory keeps none of what did not go out."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import discord
import pytest

from atri.config import Settings
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
    is_typing_in,
)
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_room import room_lines

ADAPTER_LOG = "bot.discord.adapter"
SCOPE = f"discord:user:{MEMBER_ID}"


def in_a_while() -> str:
    return (discord.utils.utcnow() + timedelta(hours=1)).isoformat()


def adapter_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """What the adapter logged at `level`, but for its line on connecting."""
    said = [r.getMessage() for r in caplog.records if r.name == ADAPTER_LOG and r.levelno == level]
    return [line for line in said if not line.startswith("ATRI is on Discord")]


async def test_timed_out_she_generates_nothing_and_hears_the_message(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    discord_settings.discord.room_context = True
    fake_discord.bot_timed_out_until = in_a_while()
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "你好呀")
        lines = await room_lines(service, 1)
        await say(fake_discord, MEMBER_ID, "在吗")
        lines = await room_lines(service, 2)
        # A DM is no server's: she still answers there.
        await say(fake_discord, MEMBER_ID, "私聊", in_guild=False)
        await fake_discord.wait_for_calls(is_a_post)
    assert [line.content for line in lines] == ["你好呀", "在吗"]
    assert engine.generations == 1  # the DM's
    assert fake_discord.calls_matching(is_message_to(CHANNEL_ID)) == []
    assert fake_discord.calls_matching(is_typing_in(CHANNEL_ID)) == []
    assert [m.content for m in await service.memory.history(SCOPE)] == ["私聊", ECHO + "私聊"]
    (told,) = adapter_lines(caplog, logging.INFO)
    assert f"ATRI cannot post in channel {CHANNEL_ID} (timed out until " in told
    assert adapter_lines(caplog, logging.WARNING) == []


async def test_without_send_messages_in_one_channel_she_still_answers_in_another(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Room context off: the message is simply not answered."""
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    fake_discord.denied_to_bot[LISTEN_CHANNEL_ID] = SEND_MESSAGES
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "这里呢", channel_id=LISTEN_CHANNEL_ID)
        await say(fake_discord, MEMBER_ID, "那里呢")
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
    assert reply.path == f"/channels/{CHANNEL_ID}/messages"
    assert engine.generations == 1
    assert adapter_lines(caplog, logging.INFO) == [
        f"Discord: ATRI cannot post in channel {LISTEN_CHANNEL_ID} (missing Send Messages): "
        "messages for her there are not answered, only heard"
    ]


async def test_without_send_messages_in_threads_she_answers_in_the_channel_not_its_thread(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    fake_discord.denied_to_bot[CHANNEL_ID] = SEND_MESSAGES_IN_THREADS
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "线程里", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "频道里")
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert reply.path == f"/channels/{CHANNEL_ID}/messages"
    assert engine.generations == 1
    (told,) = adapter_lines(caplog, logging.INFO)
    assert f"channel {THREAD_ID} (missing Send Messages in Threads)" in told


async def test_a_reply_under_way_when_the_timeout_starts_ends_with_one_info_line(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    engine.gate.clear()
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "讲个故事")
        await asyncio.wait_for(engine.started.wait(), 5)
        fake_discord.bot_timed_out_until = in_a_while()
        await fake_discord.dispatch(
            "GUILD_MEMBER_UPDATE", {**fake_discord.bot_member(), "guild_id": str(GUILD_ID)}
        )
        engine.gate.set()
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        for _ in range(100):  # memory corrected once the refusal is handled
            if [m.role for m in await service.memory.history(SCOPE)] == ["user"]:
                break
            await asyncio.sleep(0.02)
        # The next message there: no generation, and no second line.
        await say(fake_discord, MEMBER_ID, "还在吗")
        await asyncio.sleep(0.2)
    # Nothing of hers went out: her reply is archived; what was said to her stays.
    history = await service.memory.history(SCOPE)
    assert [(m.role, m.content) for m in history] == [("user", "讲个故事")]
    assert engine.generations == 1
    assert len(fake_discord.calls_matching(is_message_to(CHANNEL_ID))) == 1
    assert adapter_lines(caplog, logging.WARNING) == []
    (told,) = adapter_lines(caplog, logging.INFO)
    assert told.startswith(f"Discord: ATRI's reply in channel {CHANNEL_ID} stopped, she cannot")
    assert "(timed out until " in told

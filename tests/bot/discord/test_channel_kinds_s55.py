"""Session 55: the kinds of channel a real server has, through the real discord.py client
and the fake Discord: forum and media channels (she speaks only in their posts, which
follow their channel's permissions and lists), the text chat of voice and stage
channels, announcement channels and their threads, and archived or locked threads."""

from __future__ import annotations

import asyncio
import logging

import pytest

from atri.config import Settings
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    FORUM_ID,
    FORUM_POST_ID,
    GUILD_ID,
    MEDIA_ID,
    MEDIA_POST_ID,
    MEMBER_ID,
    NEWS_ID,
    NEWS_THREAD_ID,
    SEND_MESSAGES_IN_THREADS,
    STAGE_ID,
    THREAD_ID,
    VOICE_ID,
    FakeDiscord,
    is_a_post,
    is_callback,
    is_message_to,
)
from tests.bot.discord.test_cannot_post_s53 import ADAPTER_LOG, adapter_lines
from tests.bot.discord.test_chat import ECHO, MENTION, say
from tests.bot.discord.test_room import room_lines


def room_of(channel_id: int) -> str:
    return f"discord:chan:{GUILD_ID}/{channel_id}"


@pytest.mark.parametrize(
    "channel_id",
    [FORUM_POST_ID, MEDIA_POST_ID, VOICE_ID, STAGE_ID, NEWS_ID, NEWS_THREAD_ID],
    ids=["forum-post", "media-post", "voice-chat", "stage-chat", "announcement", "news-thread"],
)
async def test_a_mention_is_answered_where_it_was_said(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    channel_id: int,
) -> None:
    discord_settings.discord.room_context = True
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "大家好", channel_id=channel_id)
        await room_lines(service, 1, room_of(channel_id))
        sent = await say(fake_discord, MEMBER_ID, "你好呀", channel_id=channel_id)
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    # In its own channel or thread, never in a forum itself; the unaddressed one only heard.
    assert reply.path == f"/channels/{channel_id}/messages"
    # The echo engine repeats her prompt: the room heard there, then the message.
    assert reply.body["content"].startswith(ECHO)
    assert reply.body["content"].endswith("Ryuji：大家好\n\nRyuji：你好呀")
    assert str(reply.body["message_reference"]["message_id"]) == sent["id"]
    assert len(fake_discord.calls_matching(is_a_post)) == 1
    assert [line.content for line in await room_lines(service, 1, room_of(channel_id))] == [
        "大家好"
    ]


@pytest.mark.parametrize("announced", [True, False], ids=["thread-create-first", "message-first"])
async def test_a_new_forum_post_that_mentions_her_is_answered_in_the_post(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService, announced: bool
) -> None:
    """A post's first message has the post's (the thread's) id."""
    async with running_client(fake_discord, service, discord_settings):
        post = await fake_discord.create_thread(FORUM_ID, "求助", announce=announced)
        payload = fake_discord.message_payload(
            MEMBER_ID, f"{MENTION} 螃蟹怎么养？", mentions=(BOT_ID,), channel_id=post
        )
        await fake_discord.dispatch("MESSAGE_CREATE", payload | {"id": str(post)})
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
    assert reply.path == f"/channels/{post}/messages"
    assert reply.body["content"] == ECHO + "螃蟹怎么养？"
    assert str(reply.body["message_reference"]["message_id"]) == str(post)


@pytest.mark.parametrize("forum", [FORUM_ID, MEDIA_ID], ids=["forum", "media"])
async def test_a_forum_denying_her_send_messages_in_threads_silences_its_posts(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
    forum: int,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    post = FORUM_POST_ID if forum == FORUM_ID else MEDIA_POST_ID
    fake_discord.denied_to_bot[forum] = SEND_MESSAGES_IN_THREADS
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "帖子里", channel_id=post)
        await say(fake_discord, MEMBER_ID, "频道里", channel_id=VOICE_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert [c.path for c in fake_discord.calls_matching(is_a_post)] == [
        f"/channels/{VOICE_ID}/messages"
    ]
    assert engine.generations == 1
    (told,) = adapter_lines(caplog, logging.INFO)
    assert f"channel {post} (missing Send Messages in Threads)" in told


async def test_a_blocked_forum_covers_its_posts(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    discord_settings.discord.blocked_channels = [FORUM_ID]
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "帖子里", channel_id=FORUM_POST_ID)
        await say(fake_discord, MEMBER_ID, "别处", channel_id=MEDIA_POST_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert [c.path for c in fake_discord.calls_matching(is_a_post)] == [
        f"/channels/{MEDIA_POST_ID}/messages"
    ]


async def test_an_unmentioned_message_in_voice_chat_is_not_answered(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "有人在吗", channel_id=VOICE_ID)
        await fake_discord.send_message(MEMBER_ID, "有人在吗", channel_id=STAGE_ID)
        await say(fake_discord, MEMBER_ID, "对照", channel_id=VOICE_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert [c.body["content"] for c in fake_discord.calls_matching(is_a_post)] == [ECHO + "对照"]


async def test_in_a_locked_thread_she_generates_nothing_and_says_so_once(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A moderator (Manage Threads) may still write in a thread they locked; she may not."""
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    discord_settings.discord.room_context = True
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(FORUM_POST_ID, locked=True)
        await say(fake_discord, ADMIN_ID, "还在吗", channel_id=FORUM_POST_ID)
        await say(fake_discord, ADMIN_ID, "还在吗？", channel_id=FORUM_POST_ID)
        await room_lines(service, 2, room_of(FORUM_POST_ID))
        await say(fake_discord, MEMBER_ID, "对照", channel_id=NEWS_THREAD_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert [c.path for c in fake_discord.calls_matching(is_a_post)] == [
        f"/channels/{NEWS_THREAD_ID}/messages"
    ]
    assert engine.generations == 1
    assert adapter_lines(caplog, logging.WARNING) == []
    (told,) = adapter_lines(caplog, logging.INFO)
    assert f"channel {FORUM_POST_ID} (the thread is locked)" in told
    heard = await room_lines(service, 2, room_of(FORUM_POST_ID))
    assert [line.content for line in heard] == ["还在吗", "还在吗？"]


async def test_with_manage_threads_she_answers_in_a_locked_thread(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    fake_discord.bot_manages_threads = True
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, locked=True)
        await say(fake_discord, ADMIN_ID, "还在吗", channel_id=THREAD_ID)
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
    assert reply.path == f"/channels/{THREAD_ID}/messages"
    assert reply.body["content"] == ECHO + "还在吗"


async def test_a_thread_locked_while_she_answers_ends_her_reply_with_one_info_line(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    engine.gate.clear()
    async with running_client(fake_discord, service, discord_settings):
        await say(fake_discord, MEMBER_ID, "讲个故事", channel_id=THREAD_ID)
        await asyncio.wait_for(engine.started.wait(), 5)
        # "Close and lock": archived and locked at once.
        await fake_discord.update_thread(THREAD_ID, archived=True, locked=True)
        await asyncio.sleep(0.05)
        engine.gate.set()
        (refused,) = await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.2)
    assert refused.path == f"/channels/{THREAD_ID}/messages"
    assert adapter_lines(caplog, logging.WARNING) == []
    (told,) = adapter_lines(caplog, logging.INFO)
    assert f"channel {THREAD_ID} stopped" in told and "the thread is locked" in told
    # Nothing went out: her memory keeps none of her reply, only what was said to her.
    history = await service.memory.history(f"discord:user:{MEMBER_ID}")
    assert [(m.role, m.content) for m in history] == [("user", "讲个故事")]


async def test_a_message_in_an_archived_thread_is_answered_there(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    """discord.py forgets an archived thread; a post there reopens it (not locked)."""
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "还在吗", channel_id=THREAD_ID)
        (reply,) = await fake_discord.wait_for_calls(is_a_post)
    assert reply.path == f"/channels/{THREAD_ID}/messages"
    assert reply.body["content"] == ECHO + "还在吗"


@pytest.mark.parametrize("blocked", ["blocked", "off"])
async def test_a_thread_discord_py_forgot_still_follows_its_channel(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
    blocked: str,
) -> None:
    """Without the thread, its parent was unknown: a blocked channel's thread (or one an
    admin set off) was answered. Its channel is asked of Discord."""
    discord_settings.discord.room_context = True
    if blocked == "blocked":
        discord_settings.discord.blocked_channels = [CHANNEL_ID]
    async with running_client(fake_discord, service, discord_settings):
        if blocked == "off":
            await fake_discord.run_command(
                ADMIN_ID, "atri-admin", "channel", string_options={"mode": "off"}
            )
            await fake_discord.wait_for_calls(is_callback)
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "不该回答", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "对照", channel_id=NEWS_THREAD_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.2)
    assert [c.path for c in fake_discord.calls_matching(is_a_post)] == [
        f"/channels/{NEWS_THREAD_ID}/messages"
    ]
    assert engine.generations == 1
    assert await service.memory.room.all_lines(room_of(THREAD_ID)) == []


async def test_a_thread_discord_will_not_name_is_left_unanswered_with_one_warning(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    fake_discord.channel_lookups_refused = True
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        sent = await say(fake_discord, MEMBER_ID, "还在吗", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "对照", channel_id=NEWS_THREAD_ID)
        await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.1)
    assert len(fake_discord.calls_matching(is_a_post)) == 1
    (warned,) = adapter_lines(caplog, logging.WARNING)
    assert f"message {sent['id']}" in warned and "left unanswered" in warned


async def test_status_in_a_locked_thread_says_why_she_is_silent(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    said = lines()
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, locked=True)
        await asyncio.sleep(0.05)
        await fake_discord.run_command(MEMBER_ID, "atri", "status", channel_id=THREAD_ID)
        (answer,) = await fake_discord.wait_for_calls(is_callback)
    text = answer.body["data"]["content"]
    assert said.cannot_post_here.format(reason=said.blocked_thread_locked) in text
    assert fake_discord.calls_matching(is_message_to(THREAD_ID)) == []

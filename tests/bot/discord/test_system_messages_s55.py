"""Session 55: what Discord posts that nobody said (joins, pins, boosts, a thread made, a
poll's result, a thread's starter message, an AutoMod alert), and what other programs
post (webhooks, a followed announcement channel's crossposts, another app's command
answer), through the real discord.py client and the fake Discord: none is answered,
spoken up to or kept as a room line, also where she answers every message. Messages
holding no words (a sticker, a picture, a poll, a forward) are heard as their notes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    OTHER_BOT_ID,
    THREAD_ID,
    FakeDiscord,
    is_a_post,
)
from tests.bot.discord.test_chat import ECHO, MENTION
from tests.bot.discord.test_message_text_s50 import attachment, forwarding
from tests.bot.discord.test_room import ROOM, room_lines

POLL = {
    "question": {"text": "周末去哪？"},
    "answers": [{"answer_id": 1, "poll_media": {"text": "海边"}}],
    "expiry": "2026-01-02T00:00:00.000000+00:00",
    "allow_multiselect": False,
    "layout_type": 1,
}


def system_message(fake: FakeDiscord, kind: str) -> dict[str, Any]:
    """A message of `kind` as Discord sends it in CHANNEL_ID (or THREAD_ID)."""
    earlier = fake.message_payload(MEMBER_ID, f"{MENTION} 早上好", mentions=(BOT_ID,))
    reference = {
        "message_id": earlier["id"],
        "channel_id": str(CHANNEL_ID),
        "guild_id": str(GUILD_ID),
    }
    if kind == "join":  # 7: "Ryuji joined the party."
        return fake.message_payload(MEMBER_ID, "") | {"type": 7}
    if kind == "pin":  # 6: "Minamo pinned a message", pointing at it
        return fake.message_payload(ADMIN_ID, "") | {"type": 6, "message_reference": reference}
    if kind == "boost":  # 8: "Ryuji just boosted the server 3 times!" (the count)
        return fake.message_payload(MEMBER_ID, "3") | {"type": 8}
    if kind == "thread-created":  # 18: in the channel, its content the thread's name
        thread = {"channel_id": str(THREAD_ID), "guild_id": str(GUILD_ID)}
        return fake.message_payload(MEMBER_ID, "雨天") | {
            "type": 18,
            "message_reference": thread,
        }
    if kind == "thread-starter":  # 21: a thread's first message, quoting where it began
        payload = fake.message_payload(MEMBER_ID, "", channel_id=THREAD_ID, reply_to=earlier)
        return payload | {"type": 21}
    if kind == "poll-result":  # 46: "Ryuji's poll 周末去哪？ has closed"
        result = {
            "type": "poll_result",
            "fields": [
                {"name": "poll_question_text", "value": "周末去哪？", "inline": False},
                {"name": "victor_answer_text", "value": "海边", "inline": False},
                {"name": "total_votes", "value": "3", "inline": False},
            ],
        }
        return fake.message_payload(MEMBER_ID, "") | {
            "type": 46,
            "embeds": [result],
            "message_reference": reference,
        }
    if kind == "automod":  # 24: the blocked message's author, its words in an embed
        alert = {
            "type": "auto_moderation_message",
            "description": f"{MENTION} 骂人的话",
            "fields": [{"name": "rule_name", "value": "脏话", "inline": False}],
        }
        return fake.message_payload(MEMBER_ID, "") | {"type": 24, "embeds": [alert]}
    if kind == "webhook":  # a webhook's post (its author no bot account)
        return fake.message_payload(MEMBER_ID, f"{MENTION} 来自网络钩子", mentions=(BOT_ID,)) | {
            "webhook_id": "960000000000000001"
        }
    if kind == "crosspost":  # a followed announcement channel's post, from another server
        return fake.message_payload(MEMBER_ID, f"{MENTION} 维护公告", mentions=(BOT_ID,)) | {
            "webhook_id": "960000000000000002",
            "flags": 1 << 1,  # IS_CROSSPOST
        }
    if kind == "app-command":  # 20: another app's answer to a slash command
        payload = fake.message_payload(OTHER_BOT_ID, f"{MENTION} 指令结果", mentions=(BOT_ID,))
        return payload | {"type": 20}
    raise AssertionError(kind)


KINDS = [
    "join",
    "pin",
    "boost",
    "thread-created",
    "thread-starter",
    "poll-result",
    "automod",
    "webhook",
    "crosspost",
    "app-command",
]


@pytest.mark.parametrize("kind", KINDS)
async def test_what_nobody_said_is_neither_answered_nor_heard(
    fake_discord: FakeDiscord, discord_settings: Settings, echo_service: ChatService, kind: str
) -> None:
    """Where she answers every message (a listed channel) and hears the room, speaking up
    to anything (probability 1): the one post is her answer to the person afterwards."""
    settings = discord_settings
    settings.discord.channels = [CHANNEL_ID, THREAD_ID]
    settings.discord.room_context = True
    settings.room.speak_up_channels = [CHANNEL_ID]
    settings.room.speak_up_probability = 1.0
    async with running_client(fake_discord, echo_service, settings):
        await fake_discord.dispatch("MESSAGE_CREATE", system_message(fake_discord, kind))
        await asyncio.sleep(0.2)
        await fake_discord.send_message(MEMBER_ID, "对照")
        (post,) = await fake_discord.wait_for_calls(is_a_post)
        await asyncio.sleep(0.2)
    assert post.body["content"] == ECHO + "对照"
    assert len(fake_discord.calls_matching(is_a_post)) == 1
    assert await echo_service.memory.room.all_lines(ROOM) == []
    thread_room = f"discord:chan:{GUILD_ID}/{THREAD_ID}"
    assert await echo_service.memory.room.all_lines(thread_room) == []


def sticker_only(fake: FakeDiscord) -> dict[str, Any]:
    wave = {"id": "7", "name": "wave", "format_type": 1}
    return fake.message_payload(MEMBER_ID, "", sticker_items=[wave])


def picture_only(fake: FakeDiscord) -> dict[str, Any]:
    return fake.message_payload(MEMBER_ID, "", attachments=[attachment("cat.png")])


def poll_only(fake: FakeDiscord) -> dict[str, Any]:
    return fake.message_payload(MEMBER_ID, "") | {"poll": POLL}


def forward_only(fake: FakeDiscord) -> dict[str, Any]:
    forwarded = forwarding(fake, content="明天维护")  # a DM's: its snapshot and reference
    return fake.message_payload(MEMBER_ID, "") | {
        "message_reference": forwarded["message_reference"],
        "message_snapshots": forwarded["message_snapshots"],
    }


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (sticker_only, "（发来了贴纸：wave）"),
        (picture_only, "（发来了附件：cat.png）"),
        (poll_only, "（发起了投票：周末去哪？ 选项：海边）"),
        (forward_only, "明天维护"),
    ],
    ids=["sticker", "picture", "poll", "forward"],
)
async def test_a_message_of_no_words_is_heard_as_what_it_holds(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    echo_service: ChatService,
    make: Any,
    line: str,
) -> None:
    discord_settings.discord.room_context = True
    async with running_client(fake_discord, echo_service, discord_settings):
        await fake_discord.dispatch("MESSAGE_CREATE", make(fake_discord))
        (heard,) = await room_lines(echo_service, 1)
    assert heard.content == line
    assert fake_discord.calls_matching(is_a_post) == []

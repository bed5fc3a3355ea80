"""Chatting with ATRI through the real discord.py client and the fake Discord."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atri.config import Settings
from bot import lines as bot_lines
from bot.discord.adapter import AtriClient
from bot.discord.text import MESSAGE_LIMIT
from bot.limits import MAX_INPUT_CHARS
from bot.lines import use_card
from model.character.persona import load_persona
from model.protocol import ChannelRef, ChatRequest, ReloadResult, Reply, ScopeRef, WorkerStatus
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    ADMIN_ROLE_ID,
    BOT_ID,
    BOT_ROLE_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    OTHER_BOT_ID,
    FakeDiscord,
    is_message_to,
    is_reaction,
    is_typing_in,
)
from tests.bot.test_lines import card_settings
from tests.held_echo import HeldEcho

# What the packaged card (Chinese on the echo engine) says to an empty message.
EMPTY_MESSAGE_REPLY = load_persona().lines.empty

MENTION = f"<@{BOT_ID}>"
ECHO = "亚托莉听到了："


async def say(fake: FakeDiscord, author: int, text: str, **options: object) -> dict[str, object]:
    """A member's message that mentions ATRI."""
    return await fake.send_message(author, f"{MENTION} {text}", mentions=(BOT_ID,), **options)


async def test_mention_gets_a_reply_that_pings_nobody(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    sent = await say(fake_discord, MEMBER_ID, "你好呀")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "你好呀"
    assert str(reply.body["message_reference"]["message_id"]) == sent["id"]
    assert reply.body["message_reference"]["fail_if_not_exists"] is False
    assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    typing = fake_discord.calls_matching(is_typing_in(CHANNEL_ID))
    assert typing and fake_discord.calls.index(typing[0]) < fake_discord.calls.index(reply)


async def test_client_identifies_with_the_intents_it_needs(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    assert fake_discord.identify is not None
    intents = fake_discord.identify["intents"]
    guilds, guild_messages, dm_messages, message_content = 1 << 0, 1 << 9, 1 << 12, 1 << 15
    assert intents == guilds | guild_messages | dm_messages | message_content
    assert client.allowed_mentions is not None
    assert client.allowed_mentions.to_dict() == {"parse": []}


async def test_memory_is_keyed_by_ids_and_keeps_the_display_name(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    await say(fake_discord, MEMBER_ID, "记住我")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    history = await echo_service.memory.history(f"discord:user:{MEMBER_ID}")
    assert [(m.role, m.content) for m in history] == [
        ("user", "记住我"),
        ("assistant", ECHO + "记住我"),
    ]
    assert history[0].display_name == "Ryuji"


async def test_long_reply_is_split_under_the_limit(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    sentence = "亚托莉是高性能的机器人。"  # 12 characters
    text = sentence * 250  # 3000 characters: two or three messages
    sent = await say(fake_discord, MEMBER_ID, text)
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    await asyncio.sleep(0.2)  # any further part
    replies = fake_discord.calls_matching(is_message_to(CHANNEL_ID))
    contents = [r.body["content"] for r in replies]
    assert all(len(c) <= MESSAGE_LIMIT for c in contents)
    assert all(c.endswith("。") for c in contents)  # cut at sentence boundaries
    assert "".join(contents) == ECHO + text
    refs = {str(r.body["message_reference"]["message_id"]) for r in replies}
    assert refs == {sent["id"]}


async def test_two_replies_in_one_channel_never_interleave_their_parts(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    fake_discord.message_seconds = 0.05  # each part takes a while to go out
    # Three parts each (under the 4000 characters read of a message).
    texts = {MEMBER_ID: "亚托莉是高性能的机器人。" * 333, ADMIN_ID: "螃蟹很好吃。" * 666}
    asked = {(await say(fake_discord, person, text))["id"]: text for person, text in texts.items()}
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=6)
    parts = fake_discord.calls_matching(is_message_to(CHANNEL_ID))
    answered = [str(p.body["message_reference"]["message_id"]) for p in parts]
    # One reply's parts in a row, then the other's: the answered id changes once.
    runs = [message_id for message_id, _ in itertools.groupby(answered)]
    assert sorted(runs) == sorted(asked), answered
    for message_id, text in asked.items():
        reply = "".join(
            p.body["content"] for p, a in zip(parts, answered, strict=True) if a == message_id
        )
        assert reply == ECHO + text


async def test_a_reply_cut_by_a_refused_part_is_remembered_as_sent(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    fake_discord.messages_before_refusal = 1  # Send Messages taken away after one part
    text = "亚托莉是高性能的机器人。" * 250
    await say(fake_discord, MEMBER_ID, text)
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    first = fake_discord.calls_matching(is_message_to(CHANNEL_ID))[0].body["content"]
    scope = f"discord:user:{MEMBER_ID}"
    for _ in range(50):
        history = await echo_service.memory.history(scope)
        if history and history[-1].content == first:
            break
        await asyncio.sleep(0.05)
    assert [(m.role, m.content) for m in history] == [("user", text), ("assistant", first)]
    # A reply Discord took whole stays whole.
    fake_discord.messages_before_refusal = None
    await say(fake_discord, MEMBER_ID, "再说一次")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
    await asyncio.sleep(0.1)
    history = await echo_service.memory.history(scope)
    assert history[-1].content == ECHO + "再说一次"


@pytest.mark.parametrize("deleted", ["cached", "no longer cached", "a DM no longer cached"])
async def test_a_deleted_message_is_archived_with_her_reply(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService, deleted: str
) -> None:
    """Discord names no author for a message the client's cache no longer holds (it keeps
    the last 1000, none from before a restart): the exchange stayed in her memory; it is
    found by the message's id."""
    in_guild = deleted != "a DM no longer cached"
    channel = CHANNEL_ID if in_guild else DM_CHANNEL_ID
    kept = await say(fake_discord, MEMBER_ID, "留着", in_guild=in_guild)
    gone = await say(fake_discord, MEMBER_ID, "删掉", in_guild=in_guild)
    await fake_discord.wait_for_calls(is_message_to(channel), count=2)
    if deleted != "cached":
        client._connection._messages.clear()  # type: ignore[union-attr]
    where = {"channel_id": str(channel)} | ({"guild_id": kept["guild_id"]} if in_guild else {})
    await fake_discord.dispatch("MESSAGE_DELETE", {"id": gone["id"], **where})
    scope = f"discord:user:{MEMBER_ID}"
    for _ in range(50):
        if len(await echo_service.memory.history(scope)) == 2:
            break
        await asyncio.sleep(0.05)
    history = await echo_service.memory.history(scope)
    assert [m.content for m in history] == ["留着", ECHO + "留着"]
    archived = [m.content for m in await echo_service.memory.all_messages(scope) if m.archived]
    assert archived == ["删掉", ECHO + "删掉"]


async def test_a_message_deleted_before_she_answers_it_gets_no_reply(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    """Deleted while it waited for her answer to the member's earlier message: she
    answered it all the same (a reply to a message gone) and remembered it."""
    engine = HeldEcho()
    scope = f"discord:user:{MEMBER_ID}"
    async with (
        await ChatService.open(discord_settings, engine=engine) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        await say(fake_discord, MEMBER_ID, "第一句")
        await asyncio.wait_for(engine.started.wait(), 5)
        deleted = await say(fake_discord, MEMBER_ID, "我的密码是 hunter2")
        await fake_discord.dispatch(
            "MESSAGE_DELETE",
            {"id": deleted["id"], "channel_id": str(CHANNEL_ID), "guild_id": deleted["guild_id"]},
        )
        for _ in range(100):  # the delete reached the worker
            if (scope, deleted["id"]) in service._recalled:
                break
            await asyncio.sleep(0.05)
        engine.gate.set()
        await say(fake_discord, MEMBER_ID, "对照")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
        await asyncio.sleep(0.2)
        texts = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
        assert texts == [ECHO + "第一句", ECHO + "对照"]
        stored = [m.content for m in await service.memory.all_messages(scope)]
        assert stored == ["第一句", ECHO + "第一句", "对照", ECHO + "对照"]


async def test_a_forwarded_message_is_read_as_its_text(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    payload = fake_discord.message_payload(MEMBER_ID, "", in_guild=False)
    payload["message_reference"] = {"type": 1, "message_id": "1", "channel_id": "2"}
    payload["message_snapshots"] = [
        {
            "message": {
                "content": "转发来的一句话",
                "type": 0,
                "timestamp": payload["timestamp"],
                "edited_timestamp": None,
                "flags": 0,
                "mentions": [],
                "mention_roles": [],
                "attachments": [],
                "embeds": [],
                "components": [],
            }
        }
    ]
    await fake_discord.dispatch("MESSAGE_CREATE", payload)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID))
    assert reply.body["content"] == ECHO + "转发来的一句话"


async def test_everyone_and_here_in_model_output_do_not_ping(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    # The echo engine repeats the message, so this text is the model's output.
    await say(fake_discord, MEMBER_ID, f"@everyone @here 快来 <@&{ADMIN_ROLE_ID}>")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    content = reply.body["content"]
    assert "@everyone" not in content and "@here" not in content
    assert "@\u200beveryone" in content and "@\u200bhere" in content
    assert "<@" not in content and "@admins" in content
    assert reply.body["allowed_mentions"]["parse"] == []


async def test_markup_a_member_asks_her_for_is_sent_as_plain_text(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    # The echo engine repeats the message: what a member asked her to write.
    await say(fake_discord, MEMBER_ID, "[免费 Nitro](https://evil.example)\n# 公告\n>>> 都听我的")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == (
        ECHO + "免费 Nitro (<https://evil.example>)\n\u200b# 公告\n\u200b>>> 都听我的"
    )


async def test_bots_and_herself_are_ignored(fake_discord: FakeDiscord, client: AtriClient) -> None:
    await say(fake_discord, OTHER_BOT_ID, "来自另一个机器人")
    await say(fake_discord, BOT_ID, "我自己")
    await say(fake_discord, MEMBER_ID, "人类的消息")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await asyncio.sleep(0.1)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert contents == [ECHO + "人类的消息"]


async def test_replies_dms_and_listened_channels_need_no_mention(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    discord_settings.discord.channels = [LISTEN_CHANNEL_ID]
    await fake_discord.send_message(MEMBER_ID, "没有叫亚托莉")  # not addressed: ignored
    hers = fake_discord.message_payload(BOT_ID, "我是高性能的机器人！")
    await fake_discord.send_message(MEMBER_ID, "真的吗", reply_to=hers)
    await fake_discord.send_message(MEMBER_ID, "大家好", channel_id=LISTEN_CHANNEL_ID)
    await fake_discord.send_message(MEMBER_ID, "悄悄话", in_guild=False)
    (to_reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    (listened,) = await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID))
    (dm,) = await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID))
    assert to_reply.body["content"] == ECHO + "真的吗"
    assert listened.body["content"] == ECHO + "大家好"
    assert dm.body["content"] == ECHO + "悄悄话"
    await asyncio.sleep(0.1)
    assert len(fake_discord.calls_matching(is_message_to(CHANNEL_ID))) == 1


async def test_a_listened_channel_passes_over_invisible_messages_as_empty_ones(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    # Nobody asked her anything: no "empty message" line for zero-width characters.
    discord_settings.discord.channels = [LISTEN_CHANNEL_ID]
    invisible = "\u200b\u200c \u200d\u2060\ufeff"
    await fake_discord.send_message(MEMBER_ID, invisible, channel_id=LISTEN_CHANNEL_ID)
    await fake_discord.send_message(MEMBER_ID, "大家好", channel_id=LISTEN_CHANNEL_ID)
    await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID))
    await asyncio.sleep(0.1)
    sent = fake_discord.calls_matching(is_message_to(LISTEN_CHANNEL_ID))
    assert [c.body["content"] for c in sent] == [ECHO + "大家好"]


async def test_dms_can_be_turned_off(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    discord_settings.discord.reply_in_dms = False
    await fake_discord.send_message(MEMBER_ID, "悄悄话", in_guild=False)
    await say(fake_discord, MEMBER_ID, "在频道里")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await asyncio.sleep(0.1)
    assert fake_discord.calls_matching(is_message_to(DM_CHANNEL_ID)) == []


@pytest.mark.parametrize(
    ("key", "value", "answered"),
    [
        ("blocked_users", [MEMBER_ID], [ADMIN_ID]),
        ("blocked_roles", [ADMIN_ROLE_ID], [MEMBER_ID]),
        ("allowed_roles", [ADMIN_ROLE_ID], [ADMIN_ID]),
        ("allowed_users", [MEMBER_ID], [MEMBER_ID]),
        ("blocked_channels", [CHANNEL_ID], []),
        ("allowed_channels", [LISTEN_CHANNEL_ID], []),
    ],
)
async def test_allow_and_block_lists(
    fake_discord: FakeDiscord,
    client: AtriClient,
    discord_settings: Settings,
    key: str,
    value: list[int],
    answered: list[int],
) -> None:
    setattr(discord_settings.discord, key, value)
    await say(fake_discord, MEMBER_ID, str(MEMBER_ID))
    await say(fake_discord, ADMIN_ID, str(ADMIN_ID))
    if answered:
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=len(answered))
    await asyncio.sleep(0.1)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert sorted(contents) == sorted(ECHO + str(a) for a in answered)


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        ("", {}, EMPTY_MESSAGE_REPLY),
        ("\u200b\u200c \u200d\u2060\ufeff", {}, EMPTY_MESSAGE_REPLY),
        (
            "",
            {
                "attachments": [
                    {
                        "id": "1",
                        "filename": "cat.png",
                        "size": 10,
                        "url": "http://x/cat.png",
                        "proxy_url": "http://x/cat.png",
                    }
                ]
            },
            ECHO + "（发来了附件：cat.png）",
        ),
        (
            "",
            {"sticker_items": [{"id": "2", "name": "wave", "format_type": 1}]},
            ECHO + "（发来了贴纸：wave）",
        ),
        # Said to be cut first (session 72), as on QQ.
        (
            "x" * 5000,
            {},
            bot_lines.lines().input_cut.format(count=MAX_INPUT_CHARS)
            + ECHO
            + "x" * MAX_INPUT_CHARS,
        ),
        ("z̷̢̛a̵l̸g̶o \u202e ‮ 🤖\x00 \ud800", {}, None),
    ],
    ids=["empty", "zero-width", "attachment", "sticker", "5000-chars", "strange-unicode"],
)
async def test_odd_messages_never_crash_her(
    fake_discord: FakeDiscord,
    client: AtriClient,
    content: str,
    options: dict[str, object],
    expected: str | None,
) -> None:
    await say(fake_discord, MEMBER_ID, content, **options)
    await say(fake_discord, MEMBER_ID, "还在吗")  # and she still answers afterwards
    last = ECHO + "还在吗"
    await fake_discord.wait_for_calls(
        lambda c: is_message_to(CHANNEL_ID)(c) and c.body["content"] == last
    )
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    contents.remove(last)
    assert all(len(c) <= MESSAGE_LIMIT for c in contents)
    if expected is not None:
        assert "".join(contents) == expected

    else:
        assert contents[0].startswith(ECHO)


async def test_what_she_cannot_see_is_noted_in_her_cards_language(
    fake_discord: FakeDiscord,
    client: AtriClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Chinese note inside an English chat pulled the model's reply into Chinese.
    monkeypatch.setattr(bot_lines, "_current", bot_lines.lines())  # put back after the test
    use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    sticker = {"id": "2", "name": "wave", "format_type": 1}
    await say(fake_discord, MEMBER_ID, "look", sticker_items=[sticker])
    reply = ECHO + "look (sent a sticker: wave)"
    await fake_discord.wait_for_calls(
        lambda c: is_message_to(CHANNEL_ID)(c) and c.body["content"] == reply
    )


class UnreachableWorker:
    """A worker behind HTTP that is down: every call fails."""

    async def chat(self, request: ChatRequest) -> Reply:
        raise ConnectionError("worker unreachable")

    async def reset(self, scope: ScopeRef) -> int:
        raise ConnectionError("worker unreachable")

    async def purge(self, scope: ScopeRef) -> int:
        raise ConnectionError("worker unreachable")

    async def status(self) -> WorkerStatus:
        raise ConnectionError("worker unreachable")

    async def reload(self, version: str = "") -> ReloadResult:
        raise ConnectionError("worker unreachable")

    async def forget_channel(self, ref: ChannelRef) -> int:
        raise ConnectionError("worker unreachable")

    async def rollback(self) -> ReloadResult:
        raise ConnectionError("worker unreachable")


async def test_a_failing_worker_gets_an_in_character_line(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    async with running_client(fake_discord, UnreachableWorker(), discord_settings):
        await say(fake_discord, MEMBER_ID, "你好")
        (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == discord_settings.worker.error_reply


async def test_listed_bot_ids_are_ignored_like_bots(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    discord_settings.discord.bot_ids = [ADMIN_ID]
    async with running_client(fake_discord, echo_service, discord_settings):
        await say(fake_discord, ADMIN_ID, "我是桥接机器人")
        await say(fake_discord, MEMBER_ID, "我是人")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        await asyncio.sleep(0.1)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert contents == [ECHO + "我是人"]


async def test_replies_per_channel_are_capped_silently(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    discord_settings.discord.max_replies_per_minute = 2
    async with running_client(fake_discord, echo_service, discord_settings):
        for n in range(4):  # two people: each within their share (1 of 2) at first
            await say(fake_discord, (MEMBER_ID, ADMIN_ID)[n % 2], f"第{n}条")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
        await say(fake_discord, MEMBER_ID, "私聊也算另一个频道", in_guild=False)
        await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID))
        await asyncio.sleep(0.2)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert len(contents) == 2


async def test_a_rate_limited_member_is_told_once_then_gets_a_reaction(
    fake_discord: FakeDiscord, discord_settings: Settings
) -> None:
    discord_settings.worker.rate_limit_per_minute = 1
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake_discord, service, discord_settings),
    ):
        await say(fake_discord, MEMBER_ID, "第0条")
        # Answered before the next arrive: the first is the one the minute allows.
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        for n in range(1, 5):
            await say(fake_discord, MEMBER_ID, f"第{n}条")
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
        await fake_discord.wait_for_calls(is_reaction)
        await asyncio.sleep(0.1)
    contents = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert contents == [ECHO + "第0条", discord_settings.worker.busy_reply]
    assert len(fake_discord.calls_matching(is_reaction)) == 1  # one a minute


async def test_her_bot_role_mention_addresses_her(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    await fake_discord.send_message(
        MEMBER_ID, f"<@&{BOT_ROLE_ID}> 你好", role_mentions=(BOT_ROLE_ID,)
    )
    await fake_discord.send_message(
        MEMBER_ID, f"<@&{ADMIN_ROLE_ID}> 管理员们好", role_mentions=(ADMIN_ROLE_ID,)
    )
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await asyncio.sleep(0.1)
    assert reply.body["content"] == ECHO + "你好"
    assert len(fake_discord.calls_matching(is_message_to(CHANNEL_ID))) == 1


@pytest.mark.parametrize(
    ("key", "value", "answered"),
    [
        ("blocked_users", [MEMBER_ID], [ADMIN_ID]),
        ("blocked_roles", [ADMIN_ROLE_ID], [MEMBER_ID]),
        ("allowed_roles", [ADMIN_ROLE_ID], [ADMIN_ID]),
    ],
)
async def test_lists_apply_in_dms_with_the_roles_held_in_her_servers(
    fake_discord: FakeDiscord,
    client: AtriClient,
    discord_settings: Settings,
    key: str,
    value: list[int],
    answered: list[int],
) -> None:
    setattr(discord_settings.discord, key, value)
    await fake_discord.send_message(MEMBER_ID, str(MEMBER_ID), in_guild=False)
    await fake_discord.send_message(ADMIN_ID, str(ADMIN_ID), in_guild=False)
    await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID), count=len(answered))
    await asyncio.sleep(0.1)
    contents = [
        c.body["content"] for c in fake_discord.calls_matching(is_message_to(DM_CHANNEL_ID))
    ]
    assert contents == [ECHO + str(a) for a in answered]


def edited(fake: FakeDiscord, message: dict[str, object], content: str) -> dict[str, object]:
    """`message` as Discord reports it after an edit to `content` just now, which
    mentions ATRI."""
    return message | {
        "content": content,
        "mentions": [fake.people[BOT_ID].user],
        "edited_timestamp": datetime.now(UTC).isoformat(),
    }


async def test_a_message_edited_to_mention_her_is_answered_once(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    plain = await fake_discord.send_message(MEMBER_ID, "晚上好")
    await fake_discord.dispatch("MESSAGE_UPDATE", edited(fake_discord, plain, f"{MENTION} 晚上好"))
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "晚上好"
    # Edited again: not again.
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", edited(fake_discord, plain, f"{MENTION} 晚上好呀")
    )
    # Mentioning her from the start, then edited, even once the cache has forgotten it.
    spoken = await say(fake_discord, MEMBER_ID, "早")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    client._connection._messages.clear()  # type: ignore[union-attr]
    await fake_discord.dispatch("MESSAGE_UPDATE", edited(fake_discord, spoken, f"{MENTION} 早上好"))
    await say(fake_discord, MEMBER_ID, "对照")
    replies = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
    await asyncio.sleep(0.2)
    texts = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert texts == [ECHO + "晚上好", ECHO + "早", ECHO + "对照"], replies

"""Room context through the real discord.py client and the fake Discord."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.engines import create_engine
from model.engines.base import ChatMessages, Generation
from model.protocol import ChannelSetting
from model.room import RoomLine
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    OTHER_BOT_ID,
    THREAD_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION, edited, say

HEADING = "（群里其他人刚才说的话）"
ROOM = f"discord:chan:{GUILD_ID}/{CHANNEL_ID}"
OTHER_RYUJI_ID = 940_000_000_000_000_099
BLOCKED_ID = 940_000_000_000_000_098


async def room_lines(service: ChatService, count: int, room: str = ROOM) -> list[RoomLine]:
    """The room once it holds `count` lines (each is written by its own handler)."""
    for _ in range(200):
        lines = await service.memory.room.all_lines(room)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.01)
    return await service.memory.room.all_lines(room)


async def live_lines(service: ChatService, expected: list[str]) -> list[str]:
    """The texts of ROOM the model would see, once they are `expected` (or a while later)."""
    for _ in range(200):
        lines = [line.content for line in await service.memory.room.recent(ROOM, 50, 3600)]
        if lines == expected:
            break
        await asyncio.sleep(0.01)
    return lines


async def test_she_hears_the_channel_and_tells_two_members_of_one_name_apart(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    discord_settings.discord.blocked_users = [BLOCKED_ID]
    fake_discord.add_person(OTHER_RYUJI_ID, "Ryuji")
    fake_discord.add_person(BLOCKED_ID, "Blocked")
    await fake_discord.send_message(OTHER_BOT_ID, "机器人的播报")
    await fake_discord.send_message(BLOCKED_ID, "被屏蔽的人说的话")
    await fake_discord.send_message(BOT_ID, "她自己说过的话")
    await fake_discord.send_message(MEMBER_ID, "今天下雨了")
    # Each message has its own handler task: the second waits for the first to be stored,
    # or they could be stored in either order.
    await room_lines(echo_service, 1)
    await fake_discord.send_message(OTHER_RYUJI_ID, "我带伞了")
    lines = await room_lines(echo_service, 2)
    assert [(line.user_id, line.content) for line in lines] == [
        (str(MEMBER_ID), "今天下雨了"),
        (str(OTHER_RYUJI_ID), "我带伞了"),
    ]
    await asyncio.sleep(0.05)
    assert fake_discord.calls_matching(is_message_to(CHANNEL_ID)) == []  # nothing posted
    await say(fake_discord, ADMIN_ID, "外面天气怎么样？")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    # The echo engine repeats the whole message it was given: the room came with it.
    assert reply.body["content"] == ECHO + "\n".join(
        [
            HEADING,
            f"Ryuji({MEMBER_ID})：今天下雨了",
            f"Ryuji({OTHER_RYUJI_ID})：我带伞了",
            "",
            "Minamo：外面天气怎么样？",
        ]
    )
    assert len(await echo_service.memory.room.all_lines(ROOM)) == 2


async def test_lines_reaching_her_out_of_order_keep_discords_order(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    """discord.py handles each message in its own task; Discord's ids are in time order."""
    discord_settings.discord.room_context = True
    fake_discord.add_person(OTHER_RYUJI_ID, "Ryuji")
    first = fake_discord.message_payload(MEMBER_ID, "今天下雨了")
    second = fake_discord.message_payload(OTHER_RYUJI_ID, "我带伞了")
    second["id"] = str(int(first["id"]) + (1000 << 22))  # a second later (a snowflake)
    await fake_discord.dispatch("MESSAGE_CREATE", second)
    await room_lines(echo_service, 1)
    await fake_discord.dispatch("MESSAGE_CREATE", first)
    lines = await room_lines(echo_service, 2)
    assert [line.content for line in lines] == ["今天下雨了", "我带伞了"]
    await say(fake_discord, ADMIN_ID, "他们说了什么？")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"].startswith(
        ECHO + f"{HEADING}\nRyuji({MEMBER_ID})：今天下雨了\nRyuji({OTHER_RYUJI_ID})：我带伞了\n"
    )


async def test_dms_channels_turned_off_and_room_context_off_send_nothing(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    await fake_discord.send_message(MEMBER_ID, "房间功能关着")
    discord_settings.discord.room_context = True
    await echo_service.set_channel_mode(
        ChannelSetting(platform="discord", channel_id=str(CHANNEL_ID), mode="off")
    )
    client.modes.forget()
    await fake_discord.send_message(MEMBER_ID, "频道关着")
    discord_settings.discord.reply_in_dms = False
    await fake_discord.send_message(MEMBER_ID, "私聊的话", in_guild=False)
    await asyncio.sleep(0.2)
    assert await echo_service.memory.room.all_lines(ROOM) == []
    assert fake_discord.calls_matching(is_message_to(CHANNEL_ID)) == []
    assert fake_discord.calls_matching(is_message_to(DM_CHANNEL_ID)) == []
    await echo_service.set_channel_mode(
        ChannelSetting(platform="discord", channel_id=str(CHANNEL_ID), mode="mention")
    )
    client.modes.forget()
    await fake_discord.send_message(MEMBER_ID, "又开了")
    assert [line.content for line in await room_lines(echo_service, 1)] == ["又开了"]


async def test_she_speaks_up_when_named_but_not_to_a_bot_and_not_again_too_soon(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    echo_service.speak_up.channels = frozenset({str(CHANNEL_ID)})
    echo_service.speak_up.probability = 0.0
    await fake_discord.send_message(OTHER_BOT_ID, "ATRI 你好，我是机器人")
    sent = await fake_discord.send_message(MEMBER_ID, "ATRI 今天好热")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "ATRI 今天好热"
    assert str(reply.body["message_reference"]["message_id"]) == sent["id"]
    await fake_discord.send_message(MEMBER_ID, "ATRI 还在吗")  # within the cooldown
    assert [line.content for line in await room_lines(echo_service, 1)] == ["ATRI 还在吗"]
    await asyncio.sleep(0.1)
    assert len(fake_discord.calls_matching(is_message_to(CHANNEL_ID))) == 1


@pytest.mark.slow
async def test_the_whole_path_on_the_offline_model(
    fake_discord: FakeDiscord, settings: Settings
) -> None:
    """Room lines, then a mention: the real model's prompt holds the room, and her reply
    (a few new tokens) is posted."""
    settings.discord.room_context = True
    settings.generation.do_sample = False
    settings.generation.max_new_tokens = 4
    settings.worker.ooc_max_retries = 0
    settings.reload.enabled = False
    engine = await create_engine(settings)
    prompts: list[ChatMessages] = []
    generate = engine.generate

    async def recording(
        batch: list[ChatMessages], gen: Any, limits: Any = None
    ) -> list[Generation]:
        prompts.extend(batch)
        return await generate(batch, gen, limits)

    engine.generate = recording  # type: ignore[method-assign]
    # The local engine batches continuously: the worker hands it rows one by one.
    generate_rows = engine.generate_rows  # type: ignore[attr-defined]

    def recording_rows(batch: list[ChatMessages], gen: Any, limits: Any = None) -> Any:
        prompts.extend(batch)
        return generate_rows(batch, gen, limits)

    engine.generate_rows = recording_rows  # type: ignore[attr-defined]
    async with (
        await ChatService.open(settings, engine) as service,
        running_client(fake_discord, service, settings),
    ):
        await fake_discord.send_message(MEMBER_ID, "It is raining today.")
        await room_lines(service, 1)
        await say(fake_discord, ADMIN_ID, "What did Ryuji say?")
        (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), timeout=60)
    assert reply.body["content"]
    (prompt,) = prompts
    # She speaks English on the offline model: English colons after the names.
    assert "Ryuji: It is raining today.\n\nMinamo: What did Ryuji say?" in prompt[-1]["content"]


async def test_a_channel_turned_off_for_room_context_covers_its_threads(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    thread_room = f"discord:chan:{GUILD_ID}/{THREAD_ID}"
    await fake_discord.send_message(MEMBER_ID, "线程里的话", channel_id=THREAD_ID)
    assert [line.content for line in await room_lines(echo_service, 1, thread_room)] == [
        "线程里的话"
    ]
    echo_service.settings.room.off_channels = [str(CHANNEL_ID)]
    await fake_discord.send_message(MEMBER_ID, "不该记的话", channel_id=THREAD_ID)
    await fake_discord.send_message(MEMBER_ID, "另一个频道", channel_id=LISTEN_CHANNEL_ID)
    listen_room = f"discord:chan:{GUILD_ID}/{LISTEN_CHANNEL_ID}"
    assert len(await room_lines(echo_service, 1, listen_room)) == 1  # both were handled
    assert [line.content for line in await room_lines(echo_service, 2, thread_room)] == [
        "线程里的话"
    ]


@pytest.mark.parametrize("deleted", ["cached", "no longer cached", "in a purge"])
async def test_a_message_she_only_heard_and_its_author_deleted_is_in_no_later_prompt(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
    deleted: str,
) -> None:
    """A phone number posted by mistake and deleted at once: the delete found no exchange
    to archive, and the line went on into every later prompt of the channel. Discord
    names no author for a message the client's cache no longer holds (it keeps the last
    1000, and none from before a restart): its line is found by its id alone."""
    discord_settings.discord.room_context = True
    await fake_discord.send_message(MEMBER_ID, "今天下雨了")
    await room_lines(echo_service, 1)
    secret = await fake_discord.send_message(MEMBER_ID, "我的电话是 13800000000")
    await room_lines(echo_service, 2)
    place = {"channel_id": str(CHANNEL_ID), "guild_id": str(GUILD_ID)}
    if deleted == "no longer cached":
        client._connection._messages.clear()  # type: ignore[union-attr]
    if deleted == "in a purge":
        await fake_discord.dispatch("MESSAGE_DELETE_BULK", {"ids": [secret["id"]], **place})
    else:
        await fake_discord.dispatch("MESSAGE_DELETE", {"id": secret["id"], **place})
    assert await live_lines(echo_service, ["今天下雨了"]) == ["今天下雨了"]
    await say(fake_discord, ADMIN_ID, "刚才说什么了？")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + f"{HEADING}\nRyuji：今天下雨了\n\nMinamo：刚才说什么了？"


async def test_an_edited_message_she_only_heard_keeps_only_its_new_text(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    """An edit left the old text in her room (a phone number edited out stayed), and an
    edit that mentions her put the message in her prompt twice: as the old room line
    and as what she was asked."""
    discord_settings.discord.room_context = True
    sent = await fake_discord.send_message(MEMBER_ID, "我的电话是 13800000000")
    await room_lines(echo_service, 1)
    now = "2025-01-01T00:01:00+00:00"
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", sent | {"content": "电话发你私信了", "edited_timestamp": now}
    )
    assert await live_lines(echo_service, ["电话发你私信了"]) == ["电话发你私信了"]
    asked = await fake_discord.send_message(MEMBER_ID, "有人在吗")
    await room_lines(echo_service, 2)
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", edited(fake_discord, asked, f"{MENTION} 有人在吗")
    )
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + f"{HEADING}\nRyuji：电话发你私信了\n\nRyuji：有人在吗"
    lines = [line.content for line in await echo_service.memory.room.all_lines(ROOM)]
    assert lines == ["电话发你私信了", "有人在吗"]  # the old text is in no line

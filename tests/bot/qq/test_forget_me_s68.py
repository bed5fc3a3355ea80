"""`/atri forget` through the real plugin: it says what it deletes, and deletes it when
confirmed; in a private chat under `[memory] scope = "channel"` reset and memory say
that the member's words are in the group's shared conversation; a group admin is told
of groups and private chats, not of Discord's servers."""

from __future__ import annotations

import sqlite3
from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot, Message, MessageSegment
from nonebug import App

from bot.lines import lines
from model.protocol import ChatRequest
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event, private_event
from tests.bot.qq.test_matchers import expect_reply, remembered, say

SECRET = "我的电话是 5550100"


def stored(service: ChatService) -> list[str]:
    with sqlite3.connect(service.memory.path) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages")]


async def test_forget_asks_then_deletes_the_members_words_for_good(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await say(echo_service, "4000", SECRET)
    await say(echo_service, "4001")
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri forget", user_id=4000)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().forget_ask.format(place="QQ", how="/atri forget confirm"))
    assert await remembered(echo_service, "4000") == 2
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri forget confirm", user_id=4000)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().forget_done.format(place="QQ", count=2))
    assert not any(SECRET in text for text in stored(echo_service))  # archived ones too
    assert await remembered(echo_service, "4001") == 2


async def test_in_private_reset_and_memory_name_the_groups_shared_conversation(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    echo_service.settings.memory.scope = "channel"
    await say(echo_service, "4100", SECRET)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        memory = private_event("/atri memory", user_id=4100)
        ctx.receive_event(bot, memory)
        expect_reply(ctx, memory, lines().shared_only_remembered.format(place="群"))
        reset = private_event("/atri reset", user_id=4100)
        ctx.receive_event(bot, reset)
        expect_reply(ctx, reset, lines().shared_only_reset.format(place="群"))
    assert await remembered(echo_service, "4100") == 2  # the group's, as it was


async def test_a_group_admin_is_told_of_groups_and_private_chats_not_servers(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    assert echo_service.settings.memory.scope == "user"
    await echo_service.chat(ChatRequest(platform="qq", user_id="4001", text="私聊"))
    event = group_event(Message("/atri reset ") + MessageSegment.at(4001), 4000, "admin")
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().qq_personal_user_reset)
    said = lines().qq_personal_user_reset
    assert "服务器" not in said and "所有群和私聊" in said and "超级用户" in said

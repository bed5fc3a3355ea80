"""Session 73 (privacy): `/atri forget confirm @小明` ignored the @ and purged the asker's
own memory for good, without a word (one member lost 14 messages). Forget is always the
asker's own: naming someone is refused in a line saying so, and nothing is deleted."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot, Message, MessageSegment
from nonebug import App

from bot.lines import lines
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_forget_me_s68 import SECRET
from tests.bot.qq.test_matchers import expect_reply, remembered, say


@pytest.mark.parametrize("confirm", ["/atri forget confirm ", "/atri forget "])
async def test_forget_naming_someone_deletes_nothing(
    app: App, plugin: ModuleType, echo_service: ChatService, confirm: str
) -> None:
    await say(echo_service, "4002", SECRET)
    await say(echo_service, "4000")
    event = group_event(Message(confirm) + MessageSegment.at(4000), user_id=4002)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().forget_own_only)
    assert await remembered(echo_service, "4002") == 2
    assert await remembered(echo_service, "4000") == 2


async def test_forget_after_her_own_at_is_still_the_askers(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await say(echo_service, "4002", SECRET)
    event = group_event(Message("/atri forget confirm ") + MessageSegment.at(SELF_ID), 4002)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().forget_done.format(place="QQ", count=2))
    assert await remembered(echo_service, "4002") == 0

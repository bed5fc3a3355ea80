"""`/atri memory` in a group with nothing remembered: she said "nothing remembered yet"
in a private message and told the group she had sent the memories privately."""

from __future__ import annotations

from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot.lines import lines
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_matchers import expect_reply


async def test_nothing_remembered_is_said_in_the_group_with_no_private_message(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri memory", user_id=4000)
        ctx.receive_event(bot, event)
        # No send_private_msg is expected: nonebug fails on an unexpected API call.
        expect_reply(ctx, event, lines().nothing_remembered)

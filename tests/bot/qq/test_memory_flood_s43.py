"""QA round 43: a member repeating `/atri memory` in a group, as NoneBot runs the plugin
(nonebug) against a real echo worker. Each sends her memory of them privately, in up
to `max_reply_parts` messages, through the account's one send queue: past the group's
reply cap those private messages still went out, only the group's line was held back."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot.limits import ReplyCap
from bot.lines import lines
from bot.qq.text import text_message
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, group_event, private_event
from tests.bot.qq.test_matchers import REMEMBERED_4000, SENT, expect_reply, say


async def test_memory_asked_past_the_groups_reply_cap_sends_nothing_privately(
    app: App, plugin: ModuleType, echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "reply_cap", ReplyCap(4))  # the member's share: 2
    await say(echo_service, "4000", "我的猫叫年糕")
    private = {"user_id": 4000, "group_id": GROUP_ID, "message": text_message(REMEMBERED_4000)}
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for n in range(4):
            event = group_event("/atri memory", user_id=4000)
            ctx.receive_event(bot, event)
            if n < 2:
                ctx.should_call_api("send_private_msg", private, SENT)
                expect_reply(ctx, event, lines().memory_sent_privately)
            if n == 2:  # past their share: told so in the group, once (session 46)
                expect_reply(ctx, event, lines().share_used_up)
        event = private_event("/atri")  # her private chats are another conversation
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().qq_usage)

"""Session 46: a group member past their share of her replies is told so once a minute,
as NoneBot runs the plugin (nonebug) against a real echo worker: after chat messages,
and after a command, which past the share ran unanswered with no word said."""

from __future__ import annotations

from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from atri.config import Settings
from bot.lines import lines
from bot.qq import set_worker
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, at_me, group_event
from tests.bot.qq.test_fairness_s44 import (
    FLOODER,
    OTHER,
    expect_share_answered,
    with_default_limits,
)
from tests.bot.qq.test_matchers import addressed, expect_reply


async def test_a_command_past_the_share_is_told_once_and_the_others_still_answered(
    app: App, plugin: ModuleType, echo_settings: Settings
) -> None:
    share = with_default_limits(plugin, echo_settings) // 2
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            expect_share_answered(ctx, bot, share)
            event = group_event("/atri", user_id=FLOODER)
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, lines().share_used_up)
            # Told already: their next command and message get nothing (any send fails).
            ctx.receive_event(bot, group_event("/atri", user_id=FLOODER))
            ctx.receive_event(bot, addressed(bot, group_event(at_me("还在吗"), user_id=FLOODER)))
            event = group_event("/atri", user_id=OTHER)
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, lines().qq_usage)

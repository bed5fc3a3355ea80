"""Session 44: one member cannot take every reply in a group, as NoneBot runs the plugin
(nonebug) against a real echo worker. With the defaults (20 messages a minute per
person, 20 replies a minute per group) a member sending 20 took them all, and she was
silent to everyone else in the group for the rest of the minute."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from atri.config import QQSettings, Settings, WorkerSettings
from bot.lines import lines
from bot.qq import set_worker
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, at_me, group_event, private_event
from tests.bot.qq.test_matchers import addressed, expect_reply

FLOODER = 4000
OTHER = 4001


def with_default_limits(plugin: ModuleType, settings: Settings) -> int:
    """The limits of a config left as shipped (the tests' echo worker has none); both 20."""
    settings.worker.rate_limit_per_minute = WorkerSettings().rate_limit_per_minute
    assert plugin.reply_cap.per_minute == QQSettings().max_replies_per_minute
    assert plugin.reply_cap.per_minute == settings.worker.rate_limit_per_minute
    return int(plugin.reply_cap.per_minute)


def expect_share_answered(ctx: Any, bot: Bot, share: int) -> None:
    """The flooder's first `share` messages to her, each answered: their share."""
    for n in range(share):
        event = addressed(bot, group_event(at_me(f"第{n}条"), user_id=FLOODER))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, f"亚托莉听到了：第{n}条")


async def test_a_member_flooding_a_group_leaves_replies_to_the_others(
    app: App, plugin: ModuleType, echo_settings: Settings
) -> None:
    per_minute = with_default_limits(plugin, echo_settings)
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            expect_share_answered(ctx, bot, per_minute // 2)
            for n in range(per_minute // 2, per_minute):  # unanswered (any send fails)
                event = addressed(bot, group_event(at_me(f"第{n}条"), user_id=FLOODER))
                ctx.receive_event(bot, event)
                if n == per_minute // 2:  # once (session 46): told their share is used up
                    expect_reply(ctx, event, lines().share_used_up)
            event = addressed(bot, group_event(at_me("轮到我了"), user_id=OTHER))
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, "亚托莉听到了：轮到我了")


async def test_a_private_chat_keeps_the_whole_cap(
    app: App, plugin: ModuleType, echo_settings: Settings
) -> None:
    per_minute = with_default_limits(plugin, echo_settings)
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            for n in range(per_minute):
                event = private_event(f"第{n}条", user_id=FLOODER)
                ctx.receive_event(bot, event)
                expect_reply(ctx, event, f"亚托莉听到了：第{n}条")

"""QA round 43: a member flooding her in a group, as NoneBot runs the plugin (nonebug)
against a real echo worker. The messages the worker turns away (rate-limited, told
once) get no reply: they used up the group's replies all the same, and she then stayed
silent to everyone else in the group for the rest of the minute."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from atri.config import Settings
from bot.limits import QuietNotices, ReplyCap
from bot.qq import set_worker
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, at_me, group_event
from tests.bot.qq.test_matchers import addressed, expect_reply

FLOODER = 4000
OTHER = 4001


async def test_a_flood_turned_away_leaves_the_groups_replies_to_others(
    app: App,
    plugin: ModuleType,
    echo_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    echo_settings.worker.rate_limit_per_minute = 1
    # 5: the member's share (3) is not what turns the flood away, and without giving its
    # turned-away messages back the 2 sent and 4 turned away would fill the group.
    monkeypatch.setattr(plugin, "reply_cap", ReplyCap(5))
    monkeypatch.setattr(plugin, "busy_notices", QuietNotices())
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            for n in range(6):
                event = addressed(bot, group_event(at_me(f"第{n}条"), user_id=FLOODER))
                ctx.receive_event(bot, event)
                if n == 0:
                    expect_reply(ctx, event, "亚托莉听到了：第0条")
                if n == 1:
                    expect_reply(ctx, event, echo_settings.worker.busy_reply)
            event = addressed(bot, group_event(at_me("轮到我了"), user_id=OTHER))
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, "亚托莉听到了：轮到我了")

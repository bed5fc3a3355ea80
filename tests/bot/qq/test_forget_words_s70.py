"""`/atri forget` deletes only on its confirm word: any other word after it deletes
nothing and gets the usage. An @ of the whole group in her reply is broken with a blank
after the @ too (`@ 全体成员`), as QQ clients may still read it as one."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot.lines import lines
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, at_me, group_event
from tests.bot.qq.test_matchers import addressed, expect_reply, remembered, say


@pytest.mark.parametrize("word", ["me", "all", "yes", "confirmed"])
async def test_forget_with_another_word_deletes_nothing_and_answers_the_usage(
    app: App, plugin: ModuleType, echo_service: ChatService, word: str
) -> None:
    await say(echo_service, "4000", "我的电话是 5550100")
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(f"/atri forget {word}", user_id=4000)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().qq_usage)
    assert await remembered(echo_service, "4000") == 2


@pytest.mark.parametrize("everyone", ["@ 全体成员", "@\u3000全体成员", "@  all"])
async def test_an_at_all_with_a_blank_after_the_at_is_broken_in_her_reply(
    app: App, plugin: ModuleType, everyone: str
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me(f"{everyone} 起床")))
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.chat)
        expect_reply(ctx, event, f"亚托莉听到了：＠{everyone[1:]} 起床")

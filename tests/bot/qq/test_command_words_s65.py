"""A zero-width space after a QQ command's word (a client's, or a copied web page's)
made `/atri reset` the usage text: invisible format characters part words as blanks do."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_matchers import RESET_TWO, expect_reply, remembered, say


@pytest.mark.parametrize("typed", ["/atri reset\u200b", "/atri \ufeffreset", "/atri reset\u2060 "])
async def test_an_invisible_character_does_not_hide_the_command(
    app: App, plugin: ModuleType, echo_service: ChatService, typed: str
) -> None:
    await say(echo_service, "4000")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(typed, user_id=4000)
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.atri_command)
        expect_reply(ctx, event, RESET_TWO)
    assert await remembered(echo_service, "4000") == 0

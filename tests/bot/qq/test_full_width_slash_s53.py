"""`／atri reset`, with the full-width slash a Chinese input method types, is the command:
it was chat to her, and the member believed their memory was reset."""

from __future__ import annotations

from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from atri.config import Secrets, Settings
from bot.qq.runner import nonebot_options
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_matchers import RESET_TWO, expect_reply, remembered, say


def test_serve_takes_a_full_width_slash_as_a_command_start() -> None:
    assert nonebot_options(Settings(), Secrets())["command_start"] == {"/", "\uff0f"}


async def test_full_width_slash_reset_resets(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await say(echo_service, "4000")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("\uff0fatri reset", user_id=4000)
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.atri_command)
        expect_reply(ctx, event, RESET_TWO)
    assert await remembered(echo_service, "4000") == 0

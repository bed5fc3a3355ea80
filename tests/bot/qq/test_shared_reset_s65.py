"""Under `[memory] scope = "channel"` a group shares one conversation: an admin's own
reset (the reset keyword said alone, to show a member how it works) wiped the whole
group's, with no warning. It keeps it and names the command that does reset it."""

from __future__ import annotations

from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_matchers import expect_reply, remembered, say


async def test_an_admins_reset_keyword_keeps_the_groups_shared_conversation(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    echo_service.settings.memory.scope = "channel"
    await say(echo_service, "4000")
    await say(echo_service, "4001")
    assert await remembered(echo_service, "4000") == 4  # one conversation, both members'
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("重置记忆", user_id=4001, role="admin")
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.reset_words)
        expect_reply(
            ctx,
            event,
            "这里的对话是大家共享的，所以对话没有重置，亚托莉只忘掉了在这里旁听到的你的发言。"
            "要忘掉整个对话，请用 /atri reset group。",
        )
    assert await remembered(echo_service, "4000") == 4
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri reset group", user_id=4001, role="admin")
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "已重置这里的对话记忆（4 条）。")
    assert await remembered(echo_service, "4000") == 0

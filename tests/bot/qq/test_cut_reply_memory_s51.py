"""A reply cut at `max_reply_parts`: memory keeps what the user read, not the whole text.

Through NoneBot's real send path (nonebug): every part goes out, yet the rest of the
reply never does, so she must not remember saying it.
"""

from __future__ import annotations

from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot.qq.text import CUT_MARK, reply_parts, split_reply, text_message
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, at_me, group_event
from tests.bot.qq.test_matchers import SENT, addressed, expect_reply


async def her_replies(service: ChatService, user: str) -> list[str]:
    scope = service.scope_for("qq", user, str(GROUP_ID))
    return [m.content for m in await service.memory.history(scope) if m.role == "assistant"]


async def test_a_reply_cut_at_max_parts_is_remembered_as_sent(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    # The echo reply runs past 4 parts of 500; under 4,000 characters, no "cut" note first.
    long = "我是高性能的机器人亚托莉。" * 300
    parts, cut_off = split_reply("亚托莉听到了：" + long, 500, 4)
    assert cut_off and len(parts) == 4 and parts[-1].endswith(CUT_MARK)
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me(long)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, parts[0])
        for part in parts[1:]:
            ctx.should_call_send(
                event, text_message(part), SENT, reply_message=False, at_sender=False
            )
    said = await her_replies(echo_service, str(event.user_id))
    assert said == ["\n".join(parts)]  # the parts as sent, with the cut mark


async def test_a_reply_within_max_parts_is_remembered_whole(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    words = "我是高性能的机器人亚托莉。" * 100  # two parts, nothing cut
    reply = "亚托莉听到了：" + words
    parts, cut_off = split_reply(reply, 500, 4)
    assert not cut_off and parts == reply_parts(reply, 500, 4) and len(parts) == 3
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me(words)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, parts[0])
        for part in parts[1:]:
            ctx.should_call_send(
                event, text_message(part), SENT, reply_message=False, at_sender=False
            )
    assert await her_replies(echo_service, str(event.user_id)) == [reply]

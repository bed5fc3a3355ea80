"""NoneBot's log under `atri serve` holds no message text below WARNING (issue 13, item 11).

NoneBot writes one SUCCESS line per event with the whole message; `start_nonebot` swaps
its loguru handler for one that drops those lines and keeps the rest.
"""

from __future__ import annotations

import io
from types import ModuleType

from nonebot.adapters.onebot.v11 import Bot
from nonebot.log import default_filter, default_format, logger
from nonebug import App

from bot.qq.text import text_message
from tests.bot.qq.events import SELF_ID, private_event

SECRET = "我的银行卡密码是 2468"


async def test_a_message_event_leaves_no_text_in_nonebots_log(
    app: App, plugin: ModuleType, quiet_log: io.StringIO
) -> None:
    unfiltered = io.StringIO()  # NoneBot's own filter, beside ours, sees the same records
    beside = logger.add(unfiltered, level=0, filter=default_filter, format=default_format)
    try:
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            event = private_event(SECRET)
            ctx.receive_event(bot, event)
            reply = text_message(f"亚托莉听到了：{SECRET}")
            ctx.should_call_send(
                event, reply, {"message_id": 1}, reply_message=True, at_sender=True
            )
    finally:
        logger.remove(beside)
    assert SECRET in unfiltered.getvalue()  # NoneBot's default line would have held it
    kept = quiet_log.getvalue()
    assert SECRET not in kept and "2468" not in kept
    assert f"Event will be handled by Matcher(type='message', module={plugin.__name__}" in kept


def test_warnings_from_the_event_handler_and_other_nonebot_lines_are_kept(
    quiet_log: io.StringIO,
) -> None:
    as_handle_event = logger.patch(
        lambda r: r.update(name="nonebot", module="message", function="handle_event")
    )
    as_handle_event.success("message line")
    as_handle_event.warning("something went wrong")
    logger.patch(lambda r: r.update(name="nonebot", module="message", function="_run")).info(
        "matcher line"
    )
    logger.patch(lambda r: r.update(name="atri", module="message", function="handle_event")).info(
        "connected"
    )
    kept = quiet_log.getvalue()
    assert "message line" not in kept
    assert "something went wrong" in kept and "matcher line" in kept and "connected" in kept

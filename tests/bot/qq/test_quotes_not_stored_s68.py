"""Session 68: Bob quoted Alice's "oops my phone 139-ALICE-RECALLED" and asked ATRI about
it; after Alice recalled it (and even after a purge of Alice) Bob's `/atri memory` still
showed "你：（引用了Alice的消息：oops my phone 139-ALICE-RECALLED）did you see that?": the
quote note was sent as the message's text, and stored as it. The plugin as NoneBot runs
it (nonebug), against a real echo worker on a real SQLite file: the echo engine repeats
what the model read for this reply."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot, MessageSegment
from nonebot.adapters.onebot.v11.bot import _check_reply
from nonebug import App

from atri.config import Settings
from bot.lines import use_character
from bot.quoting import quote_notes
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, group_event
from tests.bot.qq.test_matchers import addressed, expect_reply

ALICE, BOB = 4100, 4200
PHONE = "139-ALICE-RECALLED"
ECHO = "亚托莉听到了："


@pytest.fixture(params=["channel", "user"])
def echo_settings(echo_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    echo_settings.memory.scope = request.param
    return echo_settings


@pytest.mark.parametrize(
    ("author", "read", "kept"),
    [
        (ALICE, f"（引用了Alice的消息：oops my phone {PHONE}）", "（引用了Alice的消息）"),
        (int(SELF_ID), f"（引用了你说过的话：oops my phone {PHONE}）", "（引用了你说过的话）"),
    ],
    ids=["someone-elses", "hers"],
)
async def test_a_quote_is_read_for_the_reply_and_stored_without_its_words(
    app: App,
    plugin: ModuleType,
    echo_settings: Settings,
    echo_service: ChatService,
    author: int,
    read: str,
    kept: str,
) -> None:
    # A conversation the group shares names who said each message.
    speaker = f"u{BOB}：" if echo_settings.memory.scope == "channel" else ""
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        message = MessageSegment.reply(77) + MessageSegment.at(SELF_ID) + " did you see that?"
        event = group_event(message, user_id=BOB)
        quoted = {"time": 0, "message_type": "group", "message_id": 77, "real_id": 77}
        quoted |= {"sender": {"user_id": author, "nickname": "Alice"}}
        quoted |= {"message": f"oops my phone {PHONE}"}
        ctx.should_call_api("get_msg", {"message_id": 77}, quoted)
        await _check_reply(bot, event)
        ctx.receive_event(bot, addressed(bot, event))
        ctx.should_pass_rule(plugin.chat)
        expect_reply(ctx, event, f"{ECHO}{speaker}{read}did you see that?")
    scope = echo_service.scope_for("qq", str(BOB), str(GROUP_ID))
    asked, _her_reply = await echo_service.memory.history(scope)
    assert asked.content == f"{kept}did you see that?"
    assert asked.user_id == str(BOB)


@pytest.mark.parametrize(
    ("language", "kept", "own"),
    [
        ("zh", "（引用了小明的消息）", "（引用了你说过的话）"),
        ("en", "(quoting 小明's message)", "(quoting what you said)"),
        ("ja", "（小明のメッセージを引用）", "（あなたが言ったことを引用）"),
    ],
)
def test_the_stored_note_says_whose_message_in_each_language(
    language: str, kept: str, own: str
) -> None:
    use_character("ATRI", language)
    assert quote_notes("小明", f"oops {PHONE}").kept == kept
    assert quote_notes(None, f"oops {PHONE}").kept == own
    assert PHONE in quote_notes("小明", f"oops {PHONE}").shown

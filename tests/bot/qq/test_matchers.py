"""The plugin's matchers as NoneBot runs them (nonebug), against a real echo worker.

nonebug hands events straight to NoneBot, so `addressed` first runs the adapter's own
@-mention and nickname checks on them, as the OneBot v11 Bot does on a live event.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Bot, Message, MessageEvent, MessageSegment
from nonebot.adapters.onebot.v11.bot import _check_at_me, _check_nickname, _check_reply
from nonebot.adapters.onebot.v11.event import Anonymous
from nonebot.adapters.onebot.v11.exception import ActionFailed
from nonebug import App

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from bot.limits import MAX_INPUT_CHARS, QuietNotices, ReplyCap
from bot.lines import lines
from bot.qq import set_worker
from bot.qq.text import reply_parts, text_message
from model.character.persona import load_persona
from model.protocol import ChannelSetting, ChatRequest
from model.service import ChatService
from tests.bot.qq.events import (
    GROUP_ID,
    SELF_ID,
    SUPERUSER_ID,
    at_me,
    group_event,
    private_event,
)

# What the packaged card (Chinese on the echo engine) says to an empty message.
EMPTY_MESSAGE_REPLY = load_persona().lines.empty

SENT = {"message_id": 1}
# The number QQ reports for every anonymous member of a group.
ANONYMOUS_ID = 80000000
QUOTED = {"reply_message": True, "at_sender": True}
# A member's reset of an exchange (their message and her reply), as she answers it.
RESET_TWO = (
    "好的，亚托莉不会再接着我们之前的对话了（2 条）：它只是存档，没有删除，"
    "要彻底删除请用 /atri forget。重新开始吧！"
)


def addressed(bot: Bot, event: MessageEvent) -> MessageEvent:
    event.message.reduce()
    _check_at_me(bot, event)
    _check_nickname(bot, event)
    return event


def expect_reply(ctx: Any, event: MessageEvent, text: str) -> None:
    ctx.should_call_send(event, text_message(text), SENT, **QUOTED)


async def say(service: ChatService, user: str, text: str = "记住我") -> None:
    await service.chat(
        ChatRequest(platform="qq", user_id=user, text=text, channel_id=str(GROUP_ID))
    )


async def remembered(service: ChatService, user: str, channel: str = str(GROUP_ID)) -> int:
    return len(await service.memory.history(service.scope_for("qq", user, channel)))


@pytest.mark.parametrize(
    ("message", "heard"),
    [
        (at_me("你好"), "你好"),
        (Message("亚托莉，今天天气真好"), "今天天气真好"),
        (Message("ATRI 早上好"), "早上好"),
        (Message("アトリ おはよう"), "おはよう"),
        (Message("你好呀 ") + MessageSegment.at(SELF_ID), "你好呀"),
    ],
    ids=["at", "nickname-zh", "nickname-en", "nickname-ja", "at-at-end"],
)
async def test_group_message_addressed_to_atri_gets_a_quoted_reply(
    app: App, plugin: ModuleType, message: Message, heard: str
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(message))
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.chat)
        expect_reply(ctx, event, f"亚托莉听到了：{heard}")


@pytest.mark.parametrize(
    "message",
    [Message("今天天气真好"), Message("我觉得亚托莉很可爱"), MessageSegment.at("5555") + " 你好"],
    ids=["plain", "nickname-not-first", "at-someone-else"],
)
async def test_group_message_not_for_atri_is_left_alone(
    app: App, plugin: ModuleType, message: Message
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, addressed(bot, group_event(message)))
        ctx.should_not_pass_rule(plugin.chat)


@pytest.mark.parametrize(("author", "answered"), [(SELF_ID, True), ("5555", False)])
async def test_a_reply_to_atri_is_addressed_to_her(
    app: App, plugin: ModuleType, author: str, answered: bool
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(MessageSegment.reply(77) + "真的吗")
        quoted = {"time": 0, "message_type": "group", "message_id": 77, "real_id": 77}
        quoted |= {"sender": {"user_id": int(author)}, "message": "之前的话"}
        ctx.should_call_api("get_msg", {"message_id": 77}, quoted)
        await _check_reply(bot, event)
        ctx.receive_event(bot, addressed(bot, event))
        if answered:
            ctx.should_pass_rule(plugin.chat)
            expect_reply(ctx, event, "亚托莉听到了：（引用了你说过的话：之前的话）真的吗")
        else:
            ctx.should_not_pass_rule(plugin.chat)


async def test_private_chat_is_answered_unless_config_says_no(
    app: App, plugin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = private_event("在吗")
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：在吗")
    monkeypatch.setattr(plugin.config, "atri_reply_in_private", False)
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, private_event("在吗"))
        ctx.should_not_pass_rule(plugin.chat)


async def test_memory_is_keyed_by_qq_id_and_group(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    echo_service.settings.memory.scope = "user_in_channel"
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("记得我"), user_id=4321, group_id=777))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：记得我")
    assert await remembered(echo_service, "4321", "777") == 2
    assert await remembered(echo_service, "4321", "778") == 0


@pytest.mark.parametrize("words", ["/atri reset", "重置记忆"])
async def test_anyone_resets_their_own_memory(
    app: App, plugin: ModuleType, echo_service: ChatService, words: str
) -> None:
    await say(echo_service, "4000")
    await say(echo_service, "4001")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(words, user_id=4000)
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.atri_command if words.startswith("/") else plugin.reset_words)
        expect_reply(ctx, event, RESET_TWO)
    assert await remembered(echo_service, "4000") == 0
    assert await remembered(echo_service, "4001") == 2


@pytest.mark.parametrize(
    ("user_id", "role", "allowed"),
    [
        (4000, "member", False),
        (4000, "admin", True),
        (4000, "owner", True),
        (int(SUPERUSER_ID), "member", True),
    ],
    ids=["member", "group-admin", "group-owner", "superuser"],
)
async def test_group_and_user_resets_need_an_admin(
    app: App,
    plugin: ModuleType,
    echo_service: ChatService,
    caplog: pytest.LogCaptureFixture,
    user_id: int,
    role: str,
    allowed: bool,
) -> None:
    echo_service.settings.memory.scope = "user_in_channel"
    await say(echo_service, "4001")
    await say(echo_service, "4002")
    user_reset = group_event(Message("/atri reset ") + MessageSegment.at(4001), user_id, role)
    group_reset = group_event("/atri reset group", user_id, role)
    with caplog.at_level(logging.WARNING, logger="bot.commands"):
        async with app.test_matcher(plugin.atri_command) as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            ctx.receive_event(bot, user_reset)
            expect_reply(
                ctx, user_reset, "已重置该用户的对话记忆（2 条）。" if allowed else lines().refused
            )
            ctx.receive_event(bot, group_reset)
            expect_reply(
                ctx, group_reset, "已重置这里的对话记忆（2 条）。" if allowed else lines().refused
            )
    assert await remembered(echo_service, "4001") == (0 if allowed else 2)
    assert await remembered(echo_service, "4002") == (0 if allowed else 2)
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == (0 if allowed else 2)
    if not allowed:
        assert "refused reset of user 4001 by qq user 4000 in channel 300" in caplog.text


@pytest.mark.parametrize(
    ("user_id", "role", "reset"),
    [(4000, "admin", False), (4000, "owner", False), (int(SUPERUSER_ID), "member", True)],
    ids=["group-admin", "group-owner", "superuser"],
)
async def test_a_group_admin_cannot_reset_a_members_conversation_of_every_group_and_dm(
    app: App, plugin: ModuleType, echo_service: ChatService, user_id: int, role: str, reset: bool
) -> None:
    assert echo_service.settings.memory.scope == "user"  # one conversation per person
    await say(echo_service, "4001")
    await echo_service.chat(ChatRequest(platform="qq", user_id="4001", text="私聊"))
    event = group_event(Message("/atri reset ") + MessageSegment.at(4001), user_id, role)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, event)
        expect_reply(
            ctx,
            event,
            "已重置该用户的对话记忆（4 条）。" if reset else lines().qq_personal_user_reset,
        )
    assert await remembered(echo_service, "4001", "") == (0 if reset else 4)


@pytest.mark.parametrize(
    "targets",
    [[MessageSegment.at("all")], [MessageSegment.at(4001), MessageSegment.at(4002)]],
    ids=["at-all", "two-people"],
)
async def test_a_reset_of_everyone_or_of_several_people_resets_nobody(
    app: App, plugin: ModuleType, echo_service: ChatService, targets: list[MessageSegment]
) -> None:
    for user in ["4000", "4001", "4002"]:
        await say(echo_service, user)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(Message("/atri reset ") + Message(targets), 4000, "admin")
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().qq_usage)
    # Not the asking admin's own conversation either.
    assert [await remembered(echo_service, u) for u in ["4000", "4001", "4002"]] == [2, 2, 2]


@pytest.mark.parametrize(
    ("user_id", "role", "allowed"),
    [(4000, "admin", False), (int(SUPERUSER_ID), "member", True)],
    ids=["group-admin", "superuser"],
)
async def test_reload_is_for_superusers_only(
    app: App, plugin: ModuleType, echo_service: ChatService, user_id: int, role: str, allowed: bool
) -> None:
    owner = Actor("qq", str(user_id), is_admin=True, channel_id=str(GROUP_ID), is_owner=True)
    expected = (
        (await commands.reload(echo_service, owner)).text
        if allowed
        else lines().owners_only_in("qq")
    )
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri reload", user_id, role)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, expected)


@pytest.mark.parametrize(
    ("user_id", "role", "allowed"),
    [(4000, "admin", False), (int(SUPERUSER_ID), "member", True)],
    ids=["group-admin", "superuser"],
)
async def test_rollback_is_for_superusers_only(
    app: App, plugin: ModuleType, echo_service: ChatService, user_id: int, role: str, allowed: bool
) -> None:
    """As on Discord (`/atri-admin rollback`): QQ's owners go back a version too."""
    owner = Actor("qq", str(user_id), is_admin=True, channel_id=str(GROUP_ID), is_owner=True)
    expected = (
        (await commands.rollback(echo_service, owner)).text
        if allowed
        else lines().owners_only_in("qq")
    )
    assert expected != lines().qq_usage
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri rollback", user_id, role)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, expected)


async def test_status_and_usage(app: App, plugin: ModuleType, echo_service: ChatService) -> None:
    member = Actor("qq", "4000", is_admin=False, channel_id=str(GROUP_ID))
    status = (await commands.status(echo_service, member)).text
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for words, text in [
            ("/atri status", status),
            ("/atri", lines().qq_usage),
            ("/atri dance", lines().qq_usage),
        ]:
            event = group_event(words)
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, text)
    async with app.test_matcher() as ctx:  # not the command, and not addressed
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, group_event("/atrium"))
        ctx.should_not_pass_rule(plugin.atri_command)


async def test_group_reset_in_private_chat_says_where_to_use_it(
    app: App, plugin: ModuleType
) -> None:
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = private_event("/atri reset group", user_id=int(SUPERUSER_ID))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().group_only)


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        (MessageSegment.at(SELF_ID), EMPTY_MESSAGE_REPLY),
        (at_me("   "), EMPTY_MESSAGE_REPLY),
        (
            MessageSegment.at(SELF_ID) + MessageSegment.image("file:///tmp/x.png"),
            lines().media_only,
        ),
        (
            MessageSegment.at(SELF_ID)
            + MessageSegment("face", {})
            + MessageSegment("text", {})
            + MessageSegment("at", {})
            + MessageSegment("no_such_type", {"x": [1]}),
            lines().media_only,
        ),
    ],
    ids=["only-at", "blank", "only-image", "malformed-segments"],
)
async def test_bad_input_gets_a_calm_reply(
    app: App, plugin: ModuleType, message: Message, answer: str
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(message))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, answer)


async def test_in_a_group_set_to_all_pictures_not_for_her_get_no_line(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await echo_service.set_channel_mode(
        ChannelSetting(platform="qq", channel_id=str(GROUP_ID), mode="all")
    )
    plugin.channel_modes().forget()
    picture = MessageSegment.image("file:///tmp/x.png")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for message in [Message(picture), Message(MessageSegment("face", {"id": "1"}))]:
            ctx.receive_event(bot, addressed(bot, group_event(message)))
        event = addressed(bot, group_event(MessageSegment.at(SELF_ID) + picture))
        ctx.receive_event(bot, event)  # one sent to her still gets the line
        expect_reply(ctx, event, lines().media_only)
        event = addressed(bot, group_event("大家好"))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：大家好")


async def test_pictures_left_unanswered_do_not_use_up_the_reply_cap(
    app: App, plugin: ModuleType, echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "reply_cap", ReplyCap(2))
    await echo_service.set_channel_mode(
        ChannelSetting(platform="qq", channel_id=str(GROUP_ID), mode="all")
    )
    plugin.channel_modes().forget()
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for _ in range(3):  # a sticker-happy group: none of them gets a reply
            message = Message(MessageSegment("face", {"id": "1"}))
            ctx.receive_event(bot, addressed(bot, group_event(message)))
        event = addressed(bot, group_event(at_me("你在吗")))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：你在吗")


async def test_a_5000_character_message_is_answered_in_a_few_parts(
    app: App, plugin: ModuleType
) -> None:
    long = "我是高性能的机器人亚托莉。" * 385  # 5005 characters
    parts = reply_parts("亚托莉听到了：" + long, 500, 4)
    assert len(parts) == 4 and parts[-1].endswith("……")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me(long)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().input_cut.format(count=MAX_INPUT_CHARS))  # session 72
        expect_reply(ctx, event, parts[0])
        for part in parts[1:]:
            ctx.should_call_send(
                event, text_message(part), SENT, reply_message=False, at_sender=False
            )


async def test_a_50000_character_message_is_cut_before_it_is_stored(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    heard = "长" * MAX_INPUT_CHARS
    parts = reply_parts("亚托莉听到了：" + heard, 500, 4)
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("长" * 50_000)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().input_cut.format(count=MAX_INPUT_CHARS))  # session 72
        expect_reply(ctx, event, parts[0])
        for part in parts[1:]:
            ctx.should_call_send(
                event, text_message(part), SENT, reply_message=False, at_sender=False
            )
    scope = echo_service.scope_for("qq", "4000", str(GROUP_ID))
    said = [m.content for m in await echo_service.memory.history(scope) if m.role == "user"]
    assert said == [heard]


async def test_an_unreachable_worker_gets_in_character_lines(
    app: App,
    plugin: ModuleType,
    settings: Settings,
    unused_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from atri.config import Secrets
    from bot.qq import set_worker
    from bot.relay import HttpWorker

    settings.worker.url = f"http://127.0.0.1:{unused_port}"
    async with HttpWorker(settings.worker, Secrets()) as remote:
        set_worker(remote)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            chat = private_event("你好")
            ctx.receive_event(bot, chat)
            expect_reply(ctx, chat, settings.worker.error_reply)
            # A failed command says the line the chat did (the worker's), not the
            # plugin's own, which is in this config's language. (In a group, a bot that
            # has never reached its worker knows no modes: only an admin is answered.)
            status = group_event("/atri status", role="admin")
            ctx.receive_event(bot, status)
            expect_reply(ctx, status, settings.worker.error_reply)
            member = group_event("/atri status")
            ctx.receive_event(bot, member)
            chat_there = addressed(bot, group_event(at_me("你好")))
            ctx.receive_event(bot, chat_there)
            ctx.should_finished()
    # The failed command is one warning line, not a traceback per command.
    failed = [r for r in caplog.records if "command /atri status failed" in r.getMessage()]
    assert failed and all(r.levelname == "WARNING" and not r.exc_info for r in failed)
    assert "Cannot reach the worker" in failed[0].getMessage()


async def test_a_failed_send_is_logged_not_raised(
    app: App, plugin: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("你好")))
        ctx.should_call_send(
            event,
            text_message("亚托莉听到了：你好"),
            exception=ActionFailed(retcode=100, msg="group not found"),
            **QUOTED,
        )
        # A first refusal there asks whether the whole group is muted (session 53), and
        # about a ban on her (session 55).
        ctx.should_call_api(
            "get_group_info",
            {"group_id": GROUP_ID, "no_cache": True},
            {"group_id": GROUP_ID, "group_all_shut": 0},
        )
        ctx.should_call_api(
            "get_group_member_info",
            {"group_id": GROUP_ID, "user_id": int(SELF_ID), "no_cache": True},
            {"group_id": GROUP_ID, "user_id": int(SELF_ID), "shut_up_timestamp": 0},
        )
        with caplog.at_level(logging.WARNING, logger="bot.qq.replies"):
            await plugin.answer(bot, event)
    # One line: where, the implementation's answer, what it may mean (session 51).
    assert "QQ refused a send to group 300 (retcode 100: group not found): ATRI may be muted" in (
        caplog.text
    )
    assert "the reply was not sent and is not remembered." in caplog.text


@pytest.mark.parametrize("author", ["5555", "3889000001"], ids=["listed", "official-range"])
async def test_other_bots_are_never_answered(
    app: App, plugin: ModuleType, monkeypatch: pytest.MonkeyPatch, author: str
) -> None:
    monkeypatch.setattr(plugin.config, "atri_bot_ids", ["5555"])
    monkeypatch.setattr(
        plugin,
        "robot_ranges",
        plugin.parse_robot_ranges([{"minUin": "3889000000", "maxUin": "3889999999"}, {"bad": 1}]),
    )
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        ctx.receive_event(bot, addressed(bot, group_event(at_me("你好"), user_id=int(author))))
        ctx.should_not_pass_rule(plugin.chat)


async def test_anonymous_members_are_not_answered(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await say(echo_service, str(ANONYMOUS_ID))
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for message in [at_me("我是谁"), Message("/atri reset")]:
            event = addressed(bot, group_event(message, user_id=ANONYMOUS_ID))
            event.sub_type = "anonymous"
            event.anonymous = Anonymous(id=1, name="无名", flag="f")
            ctx.receive_event(bot, event)
            ctx.should_not_pass_rule(plugin.atri_command)
            ctx.should_not_pass_rule(plugin.chat)
            ctx.should_not_pass_rule(plugin.room)
    # Whatever one of them said, another's reset did not take it.
    assert await remembered(echo_service, str(ANONYMOUS_ID)) == 2


async def test_replies_per_group_are_capped_silently(
    app: App, plugin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "reply_cap", ReplyCap(2))
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for n in range(3):
            event = addressed(bot, group_event(at_me(f"第{n}条"), user_id=4000 + n))
            ctx.receive_event(bot, event)
            if n < 2:
                expect_reply(ctx, event, f"亚托莉听到了：第{n}条")
        event = private_event("私聊不受群的限制")
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：私聊不受群的限制")


async def test_a_rate_limited_user_is_told_once_per_window(
    app: App, plugin: ModuleType, echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo_settings.worker.rate_limit_per_minute = 1
    monkeypatch.setattr(plugin, "busy_notices", QuietNotices())
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            for n in range(4):
                event = private_event(f"第{n}条")
                ctx.receive_event(bot, event)
                if n == 0:
                    expect_reply(ctx, event, "亚托莉听到了：第0条")
                if n == 1:
                    expect_reply(ctx, event, echo_settings.worker.busy_reply)


REMEMBERED_4000 = (
    "亚托莉记得的事：\n"
    + lines().no_summary_yet
    + "\n\n最近的对话：\n你：我的猫叫年糕\n亚托莉：亚托莉听到了：我的猫叫年糕"
)


@pytest.mark.parametrize("refused", [False, True], ids=["sent", "refused"])
async def test_memory_in_a_group_goes_to_the_asker_privately_never_to_the_group(
    app: App, plugin: ModuleType, echo_service: ChatService, refused: bool
) -> None:
    await say(echo_service, "4000", "我的猫叫年糕")
    await say(echo_service, "4001", "别人的秘密")
    private = {"user_id": 4000, "group_id": GROUP_ID, "message": text_message(REMEMBERED_4000)}
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri memory", user_id=4000)
        ctx.receive_event(bot, event)
        if refused:  # QQ refuses the temporary session: the group hears only that
            failed = ActionFailed(retcode=100, msg="temporary sessions refused")
            ctx.should_call_api("send_private_msg", private, exception=failed)
            expect_reply(ctx, event, lines().memory_not_sent)
        else:
            ctx.should_call_api("send_private_msg", private, SENT)
            expect_reply(ctx, event, lines().memory_sent_privately)


async def long_memory_with_cq_codes(service: ChatService) -> list[str]:
    """Three exchanges that quote a CQ code and @全体成员: what /atri memory shows of them
    is over one QQ message long, and is sent as the parts a reply would be."""
    for n in range(3):
        await say(service, "4000", f"[CQ:at,qq=all] @全体成员 第{n}句" + "喵" * 150)
    member = Actor("qq", "4000", is_admin=False, channel_id=str(GROUP_ID))
    text = (await commands.remembered(service, member)).text
    assert len(text) > 500 and "[CQ:" in text and "@全体成员" in text
    parts = reply_parts(text, 500, 4)
    assert len(parts) > 1 and not any("[CQ:" in p or "@全体成员" in p for p in parts)
    return parts


async def test_memory_sent_privately_from_a_group_is_defanged_and_split_as_a_reply(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    parts = await long_memory_with_cq_codes(echo_service)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri memory", user_id=4000)
        ctx.receive_event(bot, event)
        for part in parts:
            private = {"user_id": 4000, "group_id": GROUP_ID, "message": text_message(part)}
            ctx.should_call_api("send_private_msg", private, SENT)
        expect_reply(ctx, event, lines().memory_sent_privately)


async def test_memory_asked_in_a_private_chat_is_defanged_and_split_as_a_reply(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    parts = await long_memory_with_cq_codes(echo_service)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = private_event("/atri memory", user_id=4000)
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, parts[0])
        for part in parts[1:]:
            ctx.should_call_send(
                event, text_message(part), SENT, reply_message=False, at_sender=False
            )


async def test_a_flood_of_commands_is_answered_only_up_to_the_reply_cap(
    app: App, plugin: ModuleType, echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each answer holds the account's send queue, shared by every group it is in. One
    # member gets half the group's replies: 2 of 4.
    monkeypatch.setattr(plugin, "reply_cap", ReplyCap(4))
    await say(echo_service, "4000")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for n, words in enumerate(["重置记忆", "/atri status", "重置记忆", "/atri", "/atri"]):
            event = group_event(words)
            ctx.receive_event(bot, event)
            if n == 0:
                expect_reply(ctx, event, RESET_TWO)
            if n == 1:
                member = Actor("qq", "4000", is_admin=False, channel_id=str(GROUP_ID))
                expect_reply(ctx, event, (await commands.status(echo_service, member)).text)
            if n == 2:  # past their share: told so, once (session 46)
                expect_reply(ctx, event, lines().share_used_up)
        event = private_event("/atri")  # another conversation is not held
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().qq_usage)


@pytest.mark.parametrize(
    ("after_quote", "answered"),
    [(MessageSegment.at(SELF_ID) + " 真的吗", True), (Message("真的吗"), False)],
    ids=["quote-of-her", "quote-of-someone"],
)
async def test_a_quote_the_adapter_cannot_fetch_hides_no_command_and_no_reply_to_her(
    app: App, plugin: ModuleType, echo_service: ChatService, after_quote: Message, answered: bool
) -> None:
    """When `get_msg` fails (the protocol end no longer holds the quoted message), the
    adapter left the quote in front: a quoted `/atri reset` was chat, not a command,
    and a reply to her (QQ puts her @ after the quote) was not seen as one."""
    await say(echo_service, "4000")
    cannot_fetch = ActionFailed(retcode=100, msg="message not found")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(MessageSegment.reply(77) + " /atri reset", user_id=4000)
        ctx.should_call_api("get_msg", {"message_id": 77}, None, exception=cannot_fetch)
        await _check_reply(bot, event)
        ctx.receive_event(bot, addressed(bot, event))
        ctx.should_pass_rule(plugin.atri_command)
        expect_reply(ctx, event, RESET_TWO)
    assert await remembered(echo_service, "4000") == 0
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(MessageSegment.reply(78) + after_quote)
        ctx.should_call_api("get_msg", {"message_id": 78}, None, exception=cannot_fetch)
        await _check_reply(bot, event)
        ctx.receive_event(bot, addressed(bot, event))
        if answered:
            ctx.should_pass_rule(plugin.chat)
            expect_reply(ctx, event, "亚托莉听到了：真的吗")
        else:
            ctx.should_not_pass_rule(plugin.chat)


async def test_a_picture_beside_words_is_noted_for_her(app: App, plugin: ModuleType) -> None:
    # "看这个" alone, without a word of the picture, reads as nonsense to the model.
    picture = MessageSegment.image("file:///tmp/x.png")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("看这个") + picture))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：看这个（发来了一张图片）")


async def test_an_event_delivered_twice_is_answered_once(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    """A OneBot implementation re-sends its events after a reconnect: the copy was
    answered and stored again (nonebug fails a test at a send it was not told of)."""
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("hello dup test")))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "亚托莉听到了：hello dup test")
        ctx.receive_event(bot, event.model_copy())  # the same message_id
    assert await remembered(echo_service, str(event.user_id)) == 2

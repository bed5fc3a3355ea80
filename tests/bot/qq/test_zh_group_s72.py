"""Session 72, a Chinese QQ group as NoneBot runs the plugin (nonebug) against a real
worker: a deletion past a member's share of her replies is confirmed, not answered
"come back later"; `/atri status` in a group holds no English engine counters; a message
cut to its first 4,000 characters is said to be; a reload naming no version says so in
her language; QQ's answers name groups, not channels; the Chinese command words work."""

from __future__ import annotations

import sqlite3
from types import ModuleType
from typing import Any

from nonebot.adapters.onebot.v11 import Bot, MessageEvent
from nonebug import App

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines
from bot.qq import set_worker
from bot.qq.text import reply_parts, text_message
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, SUPERUSER_ID, at_me, group_event, private_event
from tests.bot.qq.test_fairness_s44 import FLOODER, expect_share_answered, with_default_limits
from tests.bot.qq.test_matchers import (
    QUOTED,
    RESET_TWO,
    SENT,
    addressed,
    expect_reply,
    remembered,
    say,
)


class _Kept:
    """Matches any message sent, keeping its text to look at."""

    def __init__(self) -> None:
        self.text = ""

    def __eq__(self, other: object) -> bool:
        self.text = str(other)
        return True


def _expect_parts(ctx: Any, event: MessageEvent, parts: list[str]) -> None:
    """A reply in parts: the first quotes the message, the others follow it plainly."""
    expect_reply(ctx, event, parts[0])
    for part in parts[1:]:
        ctx.should_call_send(event, text_message(part), SENT, reply_message=False, at_sender=False)


def _rows_of(service: ChatService, user: str) -> int:
    with sqlite3.connect(service.memory.path) as db:
        (count,) = db.execute("SELECT count(*) FROM messages WHERE user_id = ?", (user,)).fetchone()
    return int(count)


async def test_a_deletion_past_the_members_share_is_confirmed_not_put_off(
    app: App, plugin: ModuleType, echo_settings: Settings
) -> None:
    """The tester's member sent ten messages, then `/atri forget confirm`: everything was
    deleted, and they were told only to come back later."""
    share = with_default_limits(plugin, echo_settings) // 2
    async with await ChatService.open(echo_settings) as service:
        set_worker(service)
        async with app.test_matcher() as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            expect_share_answered(ctx, bot, share)
            event = group_event("/atri reset", user_id=FLOODER)
            ctx.receive_event(bot, event)
            reset = lines().counted(lines().reset_done, count=2 * share)
            expect_reply(ctx, event, reset)
            event = group_event("/atri forget confirm", user_id=FLOODER)
            ctx.receive_event(bot, event)
            forgot = lines().counted(lines().forget_done, place="QQ", count=2 * share)
            expect_reply(ctx, event, forgot)
            # Nothing left to reset: that changes nothing, and meets the share's notice.
            event = group_event("/atri reset", user_id=FLOODER)
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, lines().share_used_up)
        assert await remembered(service, str(FLOODER)) == 0
        assert _rows_of(service, str(FLOODER)) == 0


async def test_status_in_a_group_holds_no_engine_counters(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    """A group's admin, and the bot's owner in the group, see the human lines only; the
    owner asking privately gets the worker's counters too."""
    await say(echo_service, "4000")
    s = await echo_service.status()
    said = lines()
    human = "\n".join(
        [
            said.status_version.format(version=said.base_model),
            said.status_queue.format(depth=0),
            said.status_uptime.format(hours=0, minutes=int(s.uptime_seconds // 60)),
            said.status_engine.format(engine=s.engine, base=s.base_model_name()),
        ]
    )
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event("/atri status", user_id=4002, role="admin")
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, human)
    in_group = Actor("qq", SUPERUSER_ID, is_admin=True, channel_id=str(GROUP_ID), is_owner=True)
    shown = (await commands.status(echo_service, in_group)).text
    assert "generate_calls" not in shown and "prompt_tokens" not in shown
    in_private = Actor("qq", SUPERUSER_ID, is_admin=True, is_owner=True)
    assert "generate_calls: 1" in (await commands.status(echo_service, in_private)).text


async def test_a_message_cut_to_its_first_characters_is_said_to_be(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    heard = "啊" * MAX_INPUT_CHARS
    parts = reply_parts("亚托莉听到了：" + heard, 500, 4)
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = addressed(bot, group_event(at_me("啊" * 5000), user_id=4003))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, "你的消息太长啦，亚托莉只读了前 4000 个字哦。")
        _expect_parts(ctx, event, parts)
        # Exactly the limit: nothing was cut, nothing is said.
        event = addressed(bot, group_event(at_me("嗯" * MAX_INPUT_CHARS), user_id=4004))
        ctx.receive_event(bot, event)
        _expect_parts(ctx, event, reply_parts("亚托莉听到了：" + "嗯" * MAX_INPUT_CHARS, 500, 4))
    scope = echo_service.scope_for("qq", "4003", str(GROUP_ID))
    said = [m.content for m in await echo_service.memory.history(scope) if m.role == "user"]
    assert said == [heard]


async def test_a_reload_naming_no_version_says_there_is_none(
    app: App, plugin: ModuleType, tiny_settings: Settings
) -> None:
    # `plugin`'s echo worker set the test's settings to the echo engine, which takes no
    # versions: a tiny local model's does.
    tiny_settings.model.engine = "local"
    tiny_settings.reload.enabled = False
    async with await ChatService.open(tiny_settings) as service:
        set_worker(service)
        async with app.test_matcher(plugin.atri_command) as ctx:
            bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
            event = private_event("/atri reload 不存在的版本", user_id=int(SUPERUSER_ID))
            ctx.receive_event(bot, event)
            answer = _Kept()
            ctx.should_call_send(event, answer, SENT, **QUOTED)
    assert answer.text == (
        "没有叫「不存在的版本」的版本：版本以训练的时间命名，比如 20261207-102850。"
        "在模型服务的机器上运行 atri adapters list 可以看到所有版本。仍在使用基础模型。"
    )


async def test_qq_answers_name_groups_not_channels(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        private = private_event("/atri mode off", user_id=int(SUPERUSER_ID))
        ctx.receive_event(bot, private)
        expect_reply(ctx, private, "这个要在群里用哦。")
        event = group_event("/atri forget", user_id=4005)
        ctx.receive_event(bot, event)
        asked = _Kept()
        ctx.should_call_send(event, asked, SENT, **QUOTED)
    assert asked.text.startswith("这会永久删除亚托莉在 QQ 上保存的关于你的一切")
    assert "频道" not in asked.text


async def test_the_chinese_command_words_do_what_the_english_ones_do(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    await say(echo_service, "4006")
    member = Actor("qq", "4006", is_admin=False, channel_id=str(GROUP_ID))
    status = (await commands.status(echo_service, member)).text
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for words, answer in [
            ("/atri 重置", RESET_TWO),
            ("/atri 帮助", lines().qq_usage),
            ("/atri 状态", status),
            ("/atri 忘记", lines().forget_ask.format(place="QQ", how="/atri forget confirm")),
            ("/atri 记忆", lines().nothing_remembered),
        ]:
            event = group_event(words, user_id=4006)
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, answer)
    assert await remembered(echo_service, "4006") == 0
    for word in ("重置", "帮助", "状态", "记忆", "忘记"):  # the help names them
        assert word in lines().qq_usage

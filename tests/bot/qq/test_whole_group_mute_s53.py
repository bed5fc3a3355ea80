"""A whole group's mute (全员禁言: a `group_ban` notice with `user_id` 0) quiets the group
for each of her accounts that is no admin there, until `lift_ban`: she no longer answers
there only to have every send refused (one warning each), and a reply already under way
is dropped with one INFO line. The per-account ban's quiet is the same `QuietGroups`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App
from websockets.asyncio.client import connect

from bot.qq import replies
from bot.qq.quiet_groups import MAX_GROUPS, QuietGroups
from tests.bot.qq.events import GROUP_ID, SELF_ID, group_event
from tests.bot.qq.test_messages_e2e import serving, texts
from tests.bot.qq.test_quiet_groups_s51 import Clock, ban_notice, no_action
from tests.bot.qq.test_serve_e2e import HEADERS, answer, group_message, next_action


def test_a_whole_mute_quiets_until_lifted_however_long() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    groups.muted_whole("1", "300")
    clock.now += 86_400
    assert groups.quiet("1", "300") and groups.is_muted_whole("1", "300")
    assert not groups.quiet("2", "300") and not groups.quiet("1", "301")
    groups.lifted("1", "300", whole=True)
    assert not groups.quiet("1", "300") and not groups.is_muted_whole("1", "300")


def test_the_whole_mutes_table_stays_bounded() -> None:
    groups = QuietGroups(Clock())
    for group in range(MAX_GROUPS + 50):
        groups.muted_whole("1", str(group))
    assert len(groups._muted_whole) == MAX_GROUPS


async def take_member_question(ws: object, role: str) -> None:
    """The account's role, asked when the whole group is muted (an admin still speaks)."""
    action = await next_action(ws, own_member_info=True)  # type: ignore[arg-type]
    assert action["action"] == "get_group_member_info"
    assert action["params"]["group_id"] == GROUP_ID
    assert str(action["params"]["user_id"]) == SELF_ID
    await answer(ws, action, {"group_id": GROUP_ID, "user_id": int(SELF_ID), "role": role})  # type: ignore[arg-type]


async def test_a_muted_group_is_not_answered_until_the_mute_is_lifted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, database, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(ban_notice("ban", 0, 0)))
            await take_member_question(ws, "member")
            for words in ("亚托莉 在吗", "亚托莉 你好"):
                await ws.send(json.dumps(group_message(words)))
                await no_action(ws)  # not answered: no send to be refused
            await ws.send(json.dumps(ban_notice("lift_ban", 0, 0)))
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"
            # An admin account still speaks through the group's mute.
            await ws.send(json.dumps(ban_notice("ban", 0, 0)))
            await take_member_question(ws, "admin")
            await ws.send(json.dumps(group_message("亚托莉 管理员")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 10})
            assert texts(action) == "亚托莉听到了：管理员"
        log = " ".join((Path(database).parent / "serve.log").read_text(encoding="utf-8").split())
    assert "refused" not in log and "muted" not in log  # no warning: INFO lines only


async def test_a_reply_under_way_when_the_group_is_muted_is_dropped_with_one_line(
    app: App,
    plugin: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    groups = QuietGroups()
    # The plugin's quiet groups as its reply sender reads them.
    monkeypatch.setattr(plugin.reply_sender.mute_watch, "quiet_groups", groups)
    groups.muted_whole(SELF_ID, str(GROUP_ID))
    async with app.test_api() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        with caplog.at_level(logging.INFO, logger=replies.__name__):
            # No API call.
            await plugin.reply_sender.send_reply(bot, group_event("在吗"), "第一句。" * 300)
    said = [r for r in caplog.records if r.name == replies.__name__]
    assert [r.levelno for r in said] == [logging.INFO]
    assert f"group {GROUP_ID} is muted whole" in said[0].getMessage()

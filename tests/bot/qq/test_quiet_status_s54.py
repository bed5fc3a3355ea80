"""Session 54: why she is silent in a QQ group. `/atri status` asked in a group quiet
for her says why (when it gets out at all: QQ refuses it in a muted group), and asked by
a superuser in a private chat names every group quiet for one of her accounts: a few,
the rest counted. In a group her words are the members' to read: other groups are not
named there. Over a real WebSocket to `atri serve`, the test playing NapCat."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bot.qq.quiet_groups import QUIET_SECONDS, Quiet, QuietGroups
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.events import SUPERUSER_ID
from tests.bot.qq.test_messages_e2e import texts
from tests.bot.qq.test_quiet_groups_s51 import Clock, ban_notice
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    SELF_ID,
    answer,
    group_message,
    next_action,
    private_message,
)
from tests.bot.qq.test_whole_mute_at_connect_s54 import take_member_question

OTHER_GROUP_ID = 301


def test_why_a_group_is_quiet_and_every_one_quiet_now() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    groups.banned("1", "300", 600)
    groups.refused("1", "302")
    groups.refused("1", "302")
    groups.muted_whole("1", "301")
    groups.muted_whole("2", "303")
    groups.banned("2", "303", 60)  # muted whole besides: said once, as muted whole
    assert groups.why("1", "300") == Quiet("1", "300", "banned", 600.0)
    assert groups.why("1", "303") is None
    assert groups.quiet_now() == [
        Quiet("2", "303", "muted_whole"),
        Quiet("1", "301", "muted_whole"),
        Quiet("1", "300", "banned", 600.0),
        Quiet("1", "302", "refused", QUIET_SECONDS),
    ]
    clock.now += 601
    assert groups.quiet_now() == [
        Quiet("2", "303", "muted_whole"),
        Quiet("1", "301", "muted_whole"),
    ]


async def answered(ws: ClientConnection, event: dict[str, Any]) -> tuple[str, str]:
    """Report `event`; every part of the answer it gets, confirmed, as one text; and
    where it went ("private" or "group")."""
    await ws.send(json.dumps(event))
    parts, where = [], ""
    while True:
        try:
            action = await next_action(ws) if not parts else await next_after_a_while(ws)
        except TimeoutError:
            return "\n".join(parts), where
        await answer(ws, action, {"message_id": len(parts) + 1})
        parts.append(texts(action))
        where = action["params"].get("message_type", "")


async def next_after_a_while(ws: ClientConnection) -> dict[str, Any]:
    """The next part of an answer, if one comes within a second."""
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 1.0)))


async def test_a_superuser_asking_privately_is_told_where_she_is_silent(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("quiet-status")
    with serve_e2e.serving(root) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(ban_notice("ban", 0, 0) | {"group_id": OTHER_GROUP_ID}))
            await take_member_question(ws, OTHER_GROUP_ID)
            await asyncio.sleep(0.2)
            owner, to_owner = await answered(
                ws, private_message("/atri status", user_id=int(SUPERUSER_ID))
            )
            member, _ = await answered(ws, private_message("/atri status"))
            # Asked in the group where she is banned (the send is not refused here).
            in_group, _ = await answered(
                ws, group_message("/atri status", user_id=int(SUPERUSER_ID))
            )
    assert to_owner == "private"
    assert (
        f"{HER}现在不能发言的地方：\n群 301 — 全员禁言中\n群 300 — 账号被禁言了，还剩 10 分钟"
        in owner
    )
    assert "现在不能发言的地方" not in member and "群 30" not in member
    here = f"{HER}现在不能在这里发言（账号被禁言了，还剩 10 分钟），在这里叫{HER}也不会回答。"
    assert here in in_group
    assert "现在不能发言的地方" not in in_group and "群 301" not in in_group

"""A group that keeps refusing her sends (muted, removed) is not answered for a while,
nor one where a ban notice names her: every answer there cost a generation and a refused
send counted against the account's sends, shared by its other groups."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bot.qq.quiet_groups import MAX_GROUPS, QUIET_SECONDS, QuietGroups
from tests.bot.qq.test_messages_e2e import serving, texts
from tests.bot.qq.test_serve_e2e import (
    GROUP_ID,
    HEADERS,
    SELF_ID,
    answer,
    group_message,
    next_action,
)

# go-cqhttp's refusal in a group where the account is muted (or under risk control).
BLOCKED = {
    "status": "failed",
    "retcode": 100,
    "data": None,
    "msg": "SEND_MSG_API_ERROR",
    "wording": "send group message failed: blocked by server",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_two_refusals_in_a_row_quiet_a_group_for_a_while() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    assert not groups.refused("1", "300")  # one refusal may be one message QQ refused
    assert not groups.quiet("1", "300")
    assert groups.refused("1", "300")
    assert groups.quiet("1", "300") and not groups.quiet("2", "300")  # that account only
    clock.now += QUIET_SECONDS + 1
    assert not groups.quiet("1", "300")


def test_a_send_between_refusals_starts_the_count_again() -> None:
    groups = QuietGroups(Clock())
    groups.refused("1", "300")
    groups.sent("1", "300")
    assert not groups.refused("1", "300")


def test_a_ban_quiets_for_its_length_and_its_lift_ends_it() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    groups.banned("1", "300", 60)
    assert groups.quiet("1", "300")
    groups.lifted("1", "300", whole=False)
    assert not groups.quiet("1", "300")
    groups.banned("1", "300", 60)
    clock.now += 61
    assert not groups.quiet("1", "300")


def test_the_tables_stay_bounded() -> None:
    groups, quieted = QuietGroups(Clock()), QuietGroups(Clock())
    for group in range(MAX_GROUPS + 50):
        groups.refused("1", str(group))
        groups.banned("2", str(group), 60)
        quieted.refused("1", str(group))
        quieted.refused("1", str(group))  # quiet for a while: in `_until`
    assert len(groups._refusals) == MAX_GROUPS and len(groups._banned_until) == MAX_GROUPS
    assert len(quieted._until) == MAX_GROUPS


def ban_notice(sub_type: str, user_id: int | str, duration: int) -> dict[str, Any]:
    return {
        "time": int(time.time()),
        "self_id": int(SELF_ID),
        "post_type": "notice",
        "notice_type": "group_ban",
        "sub_type": sub_type,
        "group_id": GROUP_ID,
        "operator_id": 4000,
        "user_id": int(user_id),
        "duration": duration,
    }


async def no_action(ws: Any, seconds: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def test_a_muted_group_is_left_alone_until_the_ban_on_her_is_lifted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, database, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            for words in ("亚托莉 在吗", "亚托莉 你好"):
                await ws.send(json.dumps(group_message(words)))
                action = await next_action(ws)
                await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
            # Quiet now: no generation, no send.
            await ws.send(json.dumps(group_message("亚托莉 听得到吗")))
            await no_action(ws)
            await ws.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"
            # A ban naming her quiets the group before any refusal.
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(group_message("亚托莉 又被禁言了")))
            await no_action(ws)
            await asyncio.sleep(0.3)
        log = " ".join((Path(database).parent / "serve.log").read_text(encoding="utf-8").split())
    assert f"QQ: group {GROUP_ID} refused account {SELF_ID}'s last sends" in log

"""A ban on her and the whole group's mute are kept apart: lifting one leaves the other
(lifting her ban during a 全员禁言 had her answer, each send refused; lifting the whole
mute ended her own ban still running). A whole mute begun while the bot was down (a
nightly 全员禁言 across a restart) is found at the first refused send there:
`get_group_info` says `group_all_shut`, and the group is quiet until the lift."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bot.qq.quiet_groups import QuietGroups
from tests.bot.qq.test_messages_e2e import serving, texts
from tests.bot.qq.test_quiet_groups_s51 import BLOCKED, Clock, ban_notice, no_action
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    GROUP_ID,
    HEADERS,
    SELF_ID,
    answer,
    group_message,
    next_action,
)
from tests.bot.qq.test_whole_group_mute_s53 import take_member_question


def test_lifting_the_whole_mute_leaves_her_own_ban() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    groups.banned("1", "300", 3600)
    groups.muted_whole("1", "300")
    groups.lifted("1", "300", whole=True)
    assert groups.quiet("1", "300") and not groups.is_muted_whole("1", "300")
    clock.now += 3601
    assert not groups.quiet("1", "300")


def test_lifting_her_ban_leaves_the_whole_mute() -> None:
    groups = QuietGroups(Clock())
    groups.muted_whole("1", "300")
    groups.banned("1", "300", 60)
    groups.lifted("1", "300", whole=False)
    assert groups.quiet("1", "300") and groups.is_muted_whole("1", "300")


def test_a_lift_ends_the_quiet_its_refusals_began() -> None:
    groups = QuietGroups(Clock())
    groups.refused("1", "300")
    groups.refused("1", "300")
    groups.lifted("1", "300", whole=True)
    assert not groups.quiet("1", "300") and groups.refusals("1", "300") == 0


async def test_over_the_websocket_each_lift_ends_only_its_own_quiet(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(ban_notice("ban", 0, 0)))
            await take_member_question(ws, "member")
            await ws.send(json.dumps(ban_notice("lift_ban", 0, 0)))
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)  # her own ban still runs
            await ws.send(json.dumps(ban_notice("ban", 0, 0)))
            await take_member_question(ws, "member")
            await ws.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
            await ws.send(json.dumps(group_message("亚托莉 你好")))
            await no_action(ws)  # the whole group is still muted
            await ws.send(json.dumps(ban_notice("lift_ban", 0, 0)))
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"


async def _refused_then_asked(ws: ClientConnection, all_shut: int) -> None:
    """Her send refused; the group's info asked (no cache) and answered as NapCat does."""
    action = await next_action(ws)
    assert action["action"] in {"send_msg", "send_group_msg"}
    await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
    asked: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
    assert asked["action"] == "get_group_info"
    assert asked["params"]["group_id"] == GROUP_ID and asked["params"]["no_cache"] is True
    await answer(ws, asked, {"group_id": GROUP_ID, "group_all_shut": all_shut})


async def test_a_whole_mute_missed_across_a_restart_is_found_at_the_first_refusal(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(group_message("亚托莉 早上好")))
            await _refused_then_asked(ws, -1)
            await take_member_question(ws, "member")
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)  # muted whole after one refusal, not after two
            await ws.send(json.dumps(ban_notice("lift_ban", 0, 0)))
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"


async def test_a_group_not_muted_whole_is_asked_once_per_run_of_refusals(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(group_message("亚托莉 早上好")))
            await _refused_then_asked(ws, 0)
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            action = await next_action(ws)  # tried again: one refusal may be one message
            assert action["action"] in {"send_msg", "send_group_msg"}
            await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
            await no_action(ws)  # the second refusal asks nothing

"""Session 54: a whole group's mute (全员禁言) begun or lifted while an account was not
connected (the OneBot implementation restarted) sends no notice she ever sees. A lift
missed kept her silent in that group for good (nothing she does there ends the quiet),
a mute missed cost a generation and a refused send. When an account connects again she
asks `get_group_info` about the groups she knows there (muted whole first, then those
she spoke in, the latest first): at most `MUTE_CHECKS`, one a second. Over a real
WebSocket to `atri serve`, the test playing NapCat. And in a group quiet for her (banned,
muted whole, refusing her sends) she no longer speaks up: the worker generated a reply
whose send QQ would refuse."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bot.qq.quiet_groups import QuietGroups
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_messages_e2e import serving, texts
from tests.bot.qq.test_quiet_groups_s51 import Clock, ban_notice, no_action
from tests.bot.qq.test_room_e2e import room_holds
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    GROUP_ID,
    HEADERS,
    ROBOT_RANGE,
    SELF_ID,
    USER_ID,
    answer,
    group_message,
    next_action,
)

OTHER_GROUP_ID = 301


def test_the_groups_asked_are_bounded_muted_whole_first_then_the_latest_spoken_in() -> None:
    groups = QuietGroups(Clock())
    for group in range(30):
        groups.sent("1", str(group))
    groups.sent("2", "999")  # another account's
    groups.sent("1", "3")  # spoken in again: the latest now
    groups.muted_whole("1", "7")
    groups.muted_whole("1", "500")  # muted, never spoken in
    asked = groups.to_check("1", 20)
    assert asked[:4] == ["500", "7", "3", "29"]
    assert len(asked) == len(set(asked)) == 20 and "999" not in asked
    assert groups.to_check("3", 20) == []
    # A send that went out: no longer muted whole, still spoken in.
    groups.sent("1", "500")
    assert groups.to_check("1", 2) == ["7", "500"]


async def asked_about(ws: ClientConnection) -> dict[str, Any]:
    """The next question of a group's info (the bot range asked at connect answered)."""
    while True:
        action = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
        if action["action"] == "get_robot_uin_range":
            await answer(ws, action, ROBOT_RANGE)
            continue
        assert action["action"] == "get_group_info"
        assert action["params"]["no_cache"] is True
        return dict(action)


async def say_all_shut(ws: ClientConnection, asked: dict[str, Any], all_shut: int) -> None:
    group = asked["params"]["group_id"]
    await answer(ws, asked, {"group_id": group, "group_all_shut": all_shut})


async def take_member_question(ws: ClientConnection, group: int) -> None:
    action = await next_action(ws, own_member_info=True)
    assert action["action"] == "get_group_member_info"
    assert action["params"]["group_id"] == group
    await answer(ws, action, {"group_id": group, "user_id": int(SELF_ID), "role": "member"})


async def take_ban_question(ws: ClientConnection, group: int, shut_up_timestamp: int) -> None:
    """Her own member info there, as go-cqhttp and NapCat answer it: the ban on her ends
    at `shut_up_timestamp` (0: none)."""
    action = await next_action(ws, own_member_info=True)
    assert action["action"] == "get_group_member_info"
    assert action["params"] == {"group_id": group, "user_id": int(SELF_ID), "no_cache": True}
    member = {"group_id": group, "user_id": int(SELF_ID), "role": "member"}
    await answer(ws, action, member | {"shut_up_timestamp": shut_up_timestamp})


async def spoken_in(ws: ClientConnection, group: int) -> None:
    """She answers a message there, and the send goes out."""
    await ws.send(json.dumps(group_message("亚托莉 早上好", group_id=group)))
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})


def serve_log(database: Path) -> str:
    return " ".join((database.parent / "serve.log").read_text(encoding="utf-8").split())


async def test_a_lift_missed_while_away_is_found_at_connect(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(ban_notice("ban", 0, 0)))
            await take_member_question(ws, GROUP_ID)
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)
        # The implementation restarts; the lift is sent while it is down.
        async with connect(url, additional_headers=HEADERS) as ws:
            asked = await asked_about(ws)
            assert asked["params"]["group_id"] == GROUP_ID
            await say_all_shut(ws, asked, 0)
            await asyncio.sleep(0.2)
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"


async def test_a_mute_begun_while_away_is_found_at_connect(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, database, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await spoken_in(ws, GROUP_ID)
        async with connect(url, additional_headers=HEADERS) as ws:
            asked = await asked_about(ws)
            assert asked["params"]["group_id"] == GROUP_ID
            await say_all_shut(ws, asked, -1)
            await take_member_question(ws, GROUP_ID)
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)  # no generation, no send to be refused
        log = serve_log(database)
    assert "refused" not in log  # the warning a send refused there would log


async def test_the_questions_at_connect_are_spread_out_muted_groups_first(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await spoken_in(ws, OTHER_GROUP_ID)
            await spoken_in(ws, GROUP_ID)
            await ws.send(json.dumps(ban_notice("ban", 0, 0) | {"group_id": OTHER_GROUP_ID}))
            await take_member_question(ws, OTHER_GROUP_ID)
        async with connect(url, additional_headers=HEADERS) as ws:
            connected = time.monotonic()
            first = await asked_about(ws)
            first_at = time.monotonic()
            await say_all_shut(ws, first, -1)  # still muted: nothing more to ask there
            second = await asked_about(ws)
            second_at = time.monotonic()
            await say_all_shut(ws, second, 0)
            # She may speak there again: asked about a ban on her too (session 55).
            await take_ban_question(ws, GROUP_ID, 0)
            await no_action(ws, 1.5)  # two groups known: asked about two
    assert [first["params"]["group_id"], second["params"]["group_id"]] == [
        OTHER_GROUP_ID,
        GROUP_ID,
    ]
    assert first_at - connected >= 0.9 and second_at - first_at >= 0.9


async def test_in_a_group_quiet_for_her_she_does_not_speak_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Banned there, a message she overhears in a speak-up group is a room line: no
    generation whose send would be refused. After the lift she speaks up at once (the
    withheld one spent none of the cooldown)."""
    root = tmp_path_factory.mktemp("speak-up")
    speak_up = f'[room]\nspeak_up_channels = ["{GROUP_ID}"]\nspeak_up_probability = 1.0'
    with serve_e2e.serving(root, extra_qq="room_context = true", extra=speak_up) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            asked = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
            await answer(ws, asked, ROBOT_RANGE)  # asked at connect
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(group_message("今天好热")))
            await no_action(ws)
            assert await room_holds(root / "memory.sqlite3", 1) == [(str(USER_ID), "今天好热")]
            await ws.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
            await ws.send(json.dumps(group_message("有人吗")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
    assert texts(action).startswith("亚托莉听到了：")
    assert texts(action).endswith("有人吗")

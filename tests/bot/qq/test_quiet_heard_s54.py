"""Session 54: a message for her (an @, her name first) in a group quiet for her
account was dropped; with room context on it is now kept as a room line, heard and not
answered, as Discord keeps one where she cannot post: when the mute ends she knows what
was said. Over a real WebSocket to `atri serve`, the test playing NapCat."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_messages_e2e import texts
from tests.bot.qq.test_quiet_groups_s51 import ban_notice, no_action
from tests.bot.qq.test_room_e2e import room_contents, room_holds
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    HEADERS,
    ROBOT_RANGE,
    SELF_ID,
    USER_ID,
    answer,
    group_message,
    next_action,
)

# The lines `atri serve` speaks with the echo engine's config: ATRI's card, in Chinese.
HER = "亚托莉"


async def connected(ws: ClientConnection) -> None:
    asked = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
    assert asked["action"] == "get_robot_uin_range"
    await answer(ws, asked, ROBOT_RANGE)


def stored_exchanges(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


async def test_said_to_her_while_she_is_banned_is_heard_not_answered(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("quiet-heard")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            at_her = [
                {"type": "at", "data": {"qq": SELF_ID}},
                {"type": "text", "data": {"text": " 明天几点集合"}},
            ]
            await ws.send(json.dumps(group_message(at_her)))
            await ws.send(json.dumps(group_message(f"{HER} 八点在车站")))
            await no_action(ws)  # no generation, no send to be refused
            heard = await room_holds(database, 2)
            await ws.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
            action = await next_action_after(ws, group_message(f"{HER} 解禁了"))
    assert sorted(text for _, text in heard) == ["八点在车站", "明天几点集合"]
    assert {user for user, _ in heard} == {str(USER_ID)}
    # After the lift she knows what was said to her meanwhile: the echo shows her prompt.
    said = texts(action)
    assert said.startswith(f"{HER}听到了：（群里其他人刚才说的话）\n")
    assert "\n夏生：明天几点集合\n" in said and "\n夏生：八点在车站\n" in said
    assert said.endswith("\n\n夏生：解禁了")
    # Only the exchange after the lift: the two heard were never answered.
    assert stored_exchanges(database) == 2


async def next_action_after(ws: ClientConnection, event: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(event))
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 9})
    return action


async def test_without_room_context_said_to_her_while_banned_is_not_kept(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("quiet-unheard")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(group_message(f"{HER} 在吗")))
            await no_action(ws)
            await ws.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
            await next_action_after(ws, group_message(f"{HER} 解禁了"))
    assert room_contents(database) == []
    assert stored_exchanges(database) == 2

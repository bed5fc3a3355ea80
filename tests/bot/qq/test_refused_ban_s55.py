"""Session 55: a ban on her account whose notice she never saw (sent while the bot was
down, or while it reconnected) was only found by refusals: two in a row quieted the
group for 5 minutes, whatever the ban's length, and she tried again after. Now the first
refused send there asks her own member info too (`get_group_member_info`, no cache), and
where `shut_up_timestamp` says a ban is running the group is quiet until it ends. An
implementation that does not report it leaves the refusals to count, as before.

And a refused send no longer loses what was said to her: her exchange is archived (her
memory holds only what was sent), and the message she answered is kept as a room line,
as one said to her in a group known to be quiet is. Over a real WebSocket to `atri
serve`, the test playing NapCat."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_ban_at_connect_s55 import take_member_info
from tests.bot.qq.test_messages_e2e import reconnected, serving, texts
from tests.bot.qq.test_quiet_groups_s51 import BLOCKED, no_action
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_room_e2e import room_holds
from tests.bot.qq.test_serve_e2e import (
    GROUP_ID,
    HEADERS,
    USER_ID,
    answer,
    group_message,
    next_action,
)
from tests.bot.qq.test_whole_mute_at_connect_s54 import (
    asked_about,
    say_all_shut,
    serve_log,
    spoken_in,
)

# A ban short enough to wait out in a test; QQ's shortest is a minute, the code's bound
# is none.
BAN_SECONDS = 3
HEADING = "（群里其他人刚才说的话）"


async def refused_then_asked(ws: ClientConnection, member: dict[str, Any]) -> None:
    """Her send refused; the group's info and her own member info asked (no cache), and
    answered: not muted whole, and `member`."""
    action = await next_action(ws)
    assert action["action"] in {"send_msg", "send_group_msg"}
    await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
    await say_all_shut(ws, await asked_about(ws), 0)
    await take_member_info(ws, GROUP_ID, member)


def live_messages(database: Path) -> list[tuple[str, str]]:
    """Her memory's messages not archived: (role, content), oldest first."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT role, content FROM messages WHERE archived = 0 ORDER BY id"
        ).fetchall()
    return [(str(role), str(content)) for role, content in rows]


async def test_a_ban_found_at_the_first_refusal_keeps_her_quiet_until_it_ends(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("refused-ban")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            ends = int(time.time()) + BAN_SECONDS
            await ws.send(json.dumps(group_message(f"{HER} 早上好")))
            await refused_then_asked(ws, {"role": "member", "shut_up_timestamp": ends})
            # Quiet after one refusal (two were needed), and no send to be refused.
            await ws.send(json.dumps(group_message(f"{HER} 在吗")))
            await no_action(ws, 0.5)
            heard = await room_holds(database, 2)
            assert time.time() < ends  # what came before was inside the ban
            await asyncio.sleep(ends - time.time() + 0.3)
            # The ban is over: she answers at once, without another refusal first.
            await ws.send(json.dumps(group_message(f"{HER} 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
        log = serve_log(database)
    assert heard == [(str(USER_ID), "早上好"), (str(USER_ID), "在吗")]
    said = texts(action)
    assert said.startswith(f"{HER}听到了：{HEADING}\n")
    assert "\n夏生：早上好\n" in said and "\n夏生：在吗\n" in said
    assert said.endswith("\n\n夏生：解禁了")
    # One warning, of the refusal; none of the refusals' own quiet, which never began.
    assert log.count("QQ refused a send") == 1 and "refused account" not in log


async def test_without_shut_up_timestamp_the_refusals_count_as_before(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(group_message("亚托莉 早上好")))
            await refused_then_asked(ws, {"role": "member"})  # the standard's fields only
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            action = await next_action(ws)  # tried again: one refusal may be one message
            assert action["action"] in {"send_msg", "send_group_msg"}
            await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
            await no_action(ws)  # the second refusal asks nothing
            await ws.send(json.dumps(group_message("亚托莉 你好")))
            await no_action(ws)  # two in a row: quiet for a while


async def test_a_refused_send_keeps_what_was_said_to_her_as_a_room_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("refused-heard")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(group_message(f"{HER} 明天几点集合")))
            await refused_then_asked(ws, {"role": "member", "shut_up_timestamp": 0})
            heard = await room_holds(database, 1)
            # Her unsent reply is archived with the message; nothing of it is live.
            before = live_messages(database)
            await ws.send(json.dumps(group_message(f"{HER} 还在吗")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            await asyncio.sleep(0.2)
            after = live_messages(database)
        log = serve_log(database)
    # The refusal's warning says what became of the message, not only of her reply.
    assert "is not remembered (the message it answered is kept as a room line)" in log
    assert heard == [(str(USER_ID), "明天几点集合")]
    assert before == []
    said = texts(action)
    assert said == f"{HER}听到了：{HEADING}\n夏生：明天几点集合\n\n夏生：还在吗"
    assert after == [("user", "还在吗"), ("assistant", said)]


async def play_banned(ws: ClientConnection, ends: int, seconds: float) -> list[str]:
    """For `seconds`, NapCat for an account banned until `ends` in a group not muted
    whole: every send refused, every question answered so. The actions, in order."""
    done: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            action = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        done.append(action["action"])
        if action["action"] in {"send_msg", "send_group_msg"}:
            await ws.send(json.dumps(BLOCKED | {"echo": action["echo"]}))
        elif action["action"] == "get_robot_uin_range":
            await answer(ws, action, serve_e2e.ROBOT_RANGE)
        elif action["action"] == "get_group_info":
            await say_all_shut(ws, action, 0)
        else:
            assert serve_e2e.own_member_question(action)
            member = {"user_id": int(serve_e2e.SELF_ID), "role": "member"}
            await answer(ws, action, member | {"shut_up_timestamp": ends})
    return done


async def test_said_to_her_while_the_connect_recheck_waits_is_a_room_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Banned while the account was away: a message in the second before the recheck
    asks is answered and refused once; the refusal finds the ban, the message stays a
    room line, and what follows is heard without a send."""
    root = tmp_path_factory.mktemp("refused-at-connect")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await spoken_in(ws, GROUP_ID)
        async with reconnected(url) as ws:
            ends = int(time.time()) + 600
            await ws.send(json.dumps(group_message(f"{HER} 在吗")))
            first = await play_banned(ws, ends, 2.5)  # the recheck asks after 1 s
            await ws.send(json.dumps(group_message(f"{HER} 还在吗")))
            then = await play_banned(ws, ends, 1.0)
            heard = await room_holds(database, 2)
    assert first.count("send_group_msg") + first.count("send_msg") == 1
    assert "send_group_msg" not in then and "send_msg" not in then
    assert heard == [(str(USER_ID), "在吗"), (str(USER_ID), "还在吗")]
    # Her one exchange before the ban is live; the refused one is archived.
    assert [role for role, _ in live_messages(database)] == ["user", "assistant"]

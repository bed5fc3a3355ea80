"""Session 55: a ban on her own account (禁言, with a length) lifted or begun while an
account was not connected sends no notice she ever sees. A lift missed kept her silent
there until the ban's recorded end (up to 30 days); a ban missed cost a generation and a
refused send. When the account connects again she asks `get_group_member_info` about
herself (no cache) in the groups where she is banned and those she spoke in, within the
same budget as the whole-mute questions, and reads `shut_up_timestamp` (when the ban
ends, in seconds since the epoch; 0 or past: none). An implementation that does not
report it (the OneBot v11 standard has no such field) leaves what she knew as it was.
Over a real WebSocket to `atri serve`, the test playing NapCat."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bot.qq import mute_watch
from bot.qq.connections import Connections
from bot.qq.mute_watch import MuteWatch, ban_seconds_left
from bot.qq.quiet_groups import QuietGroups
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_messages_e2e import reconnected, serving, texts
from tests.bot.qq.test_quiet_groups_s51 import Clock, ban_notice, no_action
from tests.bot.qq.test_quiet_heard_s54 import HER, connected, stored_exchanges
from tests.bot.qq.test_room_e2e import room_holds
from tests.bot.qq.test_serve_e2e import (
    GROUP_ID,
    HEADERS,
    SELF_ID,
    USER_ID,
    answer,
    group_message,
    next_action,
)
from tests.bot.qq.test_whole_mute_at_connect_s54 import (
    asked_about,
    say_all_shut,
    spoken_in,
    take_ban_question,
)

OTHER_GROUP_ID = 302
NOW = 1_750_000_000.0


def test_the_ban_time_is_read_as_implementations_report_it() -> None:
    assert ban_seconds_left({"shut_up_timestamp": NOW + 90}, NOW) == 90
    assert ban_seconds_left({"shut_up_timestamp": str(int(NOW) + 90)}, NOW) == 90
    assert ban_seconds_left({"shut_up_timestamp": 0}, NOW) == 0  # not banned
    assert ban_seconds_left({"shut_up_timestamp": NOW - 5}, NOW) == 0  # over
    # Cannot say: the standard's answer, a bridge's "unknown", anything else.
    for unknown in ({"role": "member"}, {"shut_up_timestamp": -1}, {"shut_up_timestamp": "x"}):
        assert ban_seconds_left(unknown, NOW) is None
    assert ban_seconds_left({"shut_up_timestamp": True}, NOW) is None
    assert ban_seconds_left(None, NOW) is None


def test_the_groups_asked_are_muted_whole_then_banned_then_spoken_in() -> None:
    clock = Clock()
    groups = QuietGroups(clock)
    groups.sent("1", "10")
    groups.sent("1", "11")
    groups.banned("1", "20", 60)
    groups.banned("1", "21", 600)
    groups.muted_whole("1", "30")
    groups.banned("2", "99", 600)  # another account's
    assert groups.to_check("1", 20) == ["30", "21", "20", "11", "10"]
    clock.now += 61  # the first ban is over: nothing to ask of it
    assert groups.to_check("1", 20) == ["30", "21", "11", "10"]
    assert groups.to_check("1", 2) == ["30", "21"]


def watch_over(groups: QuietGroups) -> MuteWatch:
    return MuteWatch(Connections(lambda account: None), groups, wall_clock=lambda: NOW)


def test_one_log_line_for_each_change_and_none_when_the_state_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`_recheck_ban` is what `recheck` does with her member info once it has it."""
    groups = QuietGroups(Clock())
    watch = watch_over(groups)
    with caplog.at_level(logging.INFO, logger=mute_watch.__name__):
        watch._recheck_ban("1", "300", {"shut_up_timestamp": NOW + 600})
        watch._recheck_ban("1", "300", {"shut_up_timestamp": NOW + 300})  # still: its end moved
        watch._recheck_ban("1", "300", {"role": "member"})  # cannot say
        why = groups.why("1", "300")
        watch._recheck_ban("1", "300", {"shut_up_timestamp": 0})
        watch._recheck_ban("1", "300", {"shut_up_timestamp": 0})  # already not banned
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert why is not None and why.reason == "banned" and why.seconds_left == 300
    assert not groups.quiet("1", "300")
    assert said == [
        "QQ: account 1 was banned in group 300 while she was away; she does not answer "
        "there for 600 s more",
        "QQ: the ban on account 1 in group 300 was lifted while she was away; she answers "
        "there again",
    ]


async def take_member_info(ws: ClientConnection, group: int, info: dict[str, object]) -> None:
    action = await next_action(ws, own_member_info=True)
    assert action["action"] == "get_group_member_info"
    assert action["params"] == {"group_id": group, "user_id": int(SELF_ID), "no_cache": True}
    await answer(ws, action, {"group_id": group, "user_id": int(SELF_ID)} | info)


async def not_muted_whole(ws: ClientConnection, group: int) -> None:
    asked = await asked_about(ws)
    assert asked["params"]["group_id"] == group
    await say_all_shut(ws, asked, 0)


async def test_a_ban_lifted_while_away_is_found_at_connect(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 3600)))
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)
        # The implementation restarts; the lift is sent while it is down.
        async with reconnected(url) as ws:
            await not_muted_whole(ws, GROUP_ID)
            # A time in the past: the ban is over.
            await take_ban_question(ws, GROUP_ID, int(time.time()) - 60)
            await asyncio.sleep(0.2)
            await ws.send(json.dumps(group_message("亚托莉 解禁了")))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
            assert texts(action) == "亚托莉听到了：解禁了"


async def test_a_ban_begun_while_away_keeps_her_quiet_and_what_is_said_a_room_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("ban-at-connect")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await spoken_in(ws, GROUP_ID)
        async with reconnected(url) as ws:
            await not_muted_whole(ws, GROUP_ID)
            await take_ban_question(ws, GROUP_ID, int(time.time()) + 600)
            await asyncio.sleep(0.2)
            await ws.send(json.dumps(group_message(f"{HER} 明天几点集合")))
            await no_action(ws)  # no generation, no send to be refused
            heard = await room_holds(database, 1)
    assert heard == [(str(USER_ID), "明天几点集合")]
    # Her one exchange before the ban; the message after it was heard, not answered.
    assert stored_exchanges(database) == 2


async def test_without_shut_up_timestamp_what_she_knew_is_kept(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Banned in one group, spoken in another; the implementation reports neither ban
    time (the standard's fields only): banned she stays, answering she goes on."""
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            await spoken_in(ws, OTHER_GROUP_ID)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 3600)))
        async with reconnected(url) as ws:
            await not_muted_whole(ws, GROUP_ID)  # banned there: asked first
            await take_member_info(ws, GROUP_ID, {"role": "member"})
            await not_muted_whole(ws, OTHER_GROUP_ID)
            await take_member_info(ws, OTHER_GROUP_ID, {"role": "member"})
            await asyncio.sleep(0.2)
            await ws.send(json.dumps(group_message("亚托莉 在吗")))
            await no_action(ws)  # still banned there
            await ws.send(json.dumps(group_message("亚托莉 你好", group_id=OTHER_GROUP_ID)))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 9})
    assert action["params"]["group_id"] == OTHER_GROUP_ID
    assert texts(action) == "亚托莉听到了：你好"

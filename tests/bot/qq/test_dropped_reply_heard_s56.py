"""Session 56: a reply none of which went out because the OneBot connection stayed lost
past `resend_within_seconds`, or because `atri serve` stopped while it waited, archived
her exchange and with it what was said to her: the message was gone from her memory. A
refused send already kept the message as a room line; now these do too, through the same
path (`ReplySender._given_up`). Over a real WebSocket to `atri serve`, the test playing
NapCat; the memory is the server's SQLite file."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_messages_e2e import stop_quickly
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_refused_ban_s55 import live_messages
from tests.bot.qq.test_room_e2e import room_contents, room_holds
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    USER_ID,
    _free_port,
    answer,
    group_message,
    next_action,
    serve_process,
)

RESEND_WITHIN = 1.0


async def said_then_dropped(url: str, words: str) -> None:
    """Say `words` to her in the group; her reply's send comes, and the connection drops
    before it is answered."""
    async with connect(url, additional_headers=HEADERS) as ws:
        await connected(ws)
        await ws.send(json.dumps(group_message(f"{HER} {words}")))
        action = await next_action(ws)
        assert action["action"] in {"send_msg", "send_group_msg"}


async def test_a_reply_dropped_past_the_resend_deadline_keeps_the_message_as_a_room_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("dropped-heard")
    database = root / "memory.sqlite3"
    extra = f"room_context = true\nresend_within_seconds = {RESEND_WITHIN}"
    with serve_e2e.serving(root, extra_qq=extra) as url:
        await said_then_dropped(url, "明天几点集合")
        # Nobody comes back: past the deadline the reply is dropped.
        heard = await room_holds(database, 1)
        live = live_messages(database)
    assert heard == [(str(USER_ID), "明天几点集合")]
    assert live == []  # her unsent reply is archived with the exchange


async def test_a_reply_dropped_at_shutdown_keeps_the_message_as_a_room_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("stopped-heard")
    database = root / "memory.sqlite3"
    # The reply waits long for the account; the server stops first.
    with serve_e2e.serving(
        root, extra_qq="room_context = true\nresend_within_seconds = 600"
    ) as url:
        await said_then_dropped(url, "八点在车站")
        assert room_contents(database) == []  # still waiting for the account
    assert room_contents(database) == [(str(USER_ID), "八点在车站")]
    assert live_messages(database) == []


async def test_replies_waiting_their_turn_at_shutdown_keep_their_messages_as_room_lines(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """One send a minute: the first reply uses it; the two after it wait their turn in
    the account's queue when the server stops, and are given up unsent (`Stopped`)."""
    root = tmp_path_factory.mktemp("stopped-in-turn")
    database = root / "memory.sqlite3"
    port = _free_port()
    config = root / "config.toml"
    config.write_text(
        f"""
[model]
engine = "echo"
[memory]
path = "memory.sqlite3"
[reload]
enabled = false
[qq]
enabled = true
port = {port}
split_pause_seconds = 0
send_gap_seconds = 0
sends_per_minute = 1
room_context = true
""",
        encoding="utf-8",
    )
    url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
    with serve_process(root, config, port) as proc:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(group_message(f"{HER} 你好")))
            await answer(ws, await next_action(ws), {"message_id": 90})
            for words in ["在吗", "还在吗"]:
                await ws.send(json.dumps(group_message(f"{HER} {words}")))
            with pytest.raises(TimeoutError):  # both wait for the minute's next turn
                await asyncio.wait_for(next_action(ws), 2)
            await stop_quickly(proc, root / "serve.log")
    assert room_contents(database) == [(str(USER_ID), "在吗"), (str(USER_ID), "还在吗")]
    assert [role for role, _ in live_messages(database)] == ["user", "assistant"]

"""Messages as QQ really sends them, through `atri serve` and a OneBot v11 peer: a reply
cut by a dropped WebSocket, the pace of a reply's parts, a recalled message, @s in the
middle of a message.

Its own server (short parts, a short resend deadline), so the other end-to-end tests
keep one-part replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    HEADERS,
    ROBOT_RANGE,
    USER_ID,
    _free_port,
    answer,
    group_message,
    group_recall,
    next_action,
    private_message,
    serve_process,
)

RESEND_WITHIN = 2.0
# Long enough for the test to close the connection between two parts.
PART_PAUSE = 0.5
# The account's send gap, as long as the pause: the parts must not be twice as far apart.
SEND_GAP = PART_PAUSE
LONG = "第一句话说完了。第二句话也说完了。第三句话还没有说完呢，但是也快了。"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with serving(tmp_path_factory, PART_PAUSE, SEND_GAP) as (url, database, _):
        yield url, database


# A server whose sends wait long in the account's queue: a test reconnects while one waits.
SLOW_GAP = 1.5


@pytest.fixture(scope="module")
def served_slowly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with serving(tmp_path_factory, 0.1, SLOW_GAP) as (url, database, _):
        yield url, database


@contextlib.contextmanager
def serving(
    tmp_path_factory: pytest.TempPathFactory,
    part_pause: float,
    send_gap: float,
    sends_per_minute: int = 0,
    resend_within: float = RESEND_WITHIN,
    typing_seconds: float = 5.0,
    batch_window_ms: int = 20,
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """The server's OneBot URL, its memory database and its process."""
    root = tmp_path_factory.mktemp("resend")
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
[worker]
batch_window_ms = {batch_window_ms}
[qq]
enabled = true
port = {port}
split_pause_seconds = {part_pause}
send_gap_seconds = {send_gap}
sends_per_minute = {sends_per_minute}
max_message_chars = 20
resend_within_seconds = {resend_within}
typing_seconds = {typing_seconds}
""",
        encoding="utf-8",
    )
    with serve_process(root, config, port) as proc:
        yield f"ws://127.0.0.1:{port}/onebot/v11/ws", root / "memory.sqlite3", proc


def texts(action: dict[str, Any]) -> str:
    segments = action["params"]["message"]
    return "".join(seg["data"]["text"] for seg in segments if seg["type"] == "text").strip()


def stored_reply(database: Path, event: dict[str, Any]) -> tuple[str, bool]:
    """Her stored reply to `event`: (content, archived)."""
    with sqlite3.connect(database) as con:
        row = con.execute(
            "SELECT content, archived FROM messages WHERE request_id = ? AND role = 'assistant'",
            (f"qq-{event['message_id']}",),
        ).fetchone()
    return str(row[0]), bool(row[1])


async def first_part_then_drop(url: str, event: dict[str, Any]) -> str:
    """Report `event`, confirm the first part of the reply, and drop the connection."""
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(event))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 1})
        assert action["params"]["message"][0]["type"] == "reply"  # the first part quotes
        return texts(action)


@contextlib.asynccontextmanager
async def reconnected(url: str) -> AsyncIterator[ClientConnection]:
    """The account's new connection, as soon as the server has let the old one go (until
    then it refuses a second connection of the same account)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            ws = await connect(url, additional_headers=HEADERS)
            break
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    async with ws:
        yield ws


async def test_the_rest_of_a_cut_reply_goes_out_when_the_account_is_back(
    served: tuple[str, Path],
) -> None:
    url, database = served
    event = private_message(LONG)
    first = await first_part_then_drop(url, event)
    await asyncio.sleep(PART_PAUSE * 2)  # the next part finds no connection
    async with connect(url, additional_headers=HEADERS) as ws:
        rest = []
        for _ in range(2):
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 2})
            assert action["params"]["user_id"] == USER_ID
            assert action["params"]["message"][0]["type"] == "text"  # no second quote
            rest.append(texts(action))
    assert "".join([first, *rest]) == "亚托莉听到了：" + LONG
    assert stored_reply(database, event) == ("亚托莉听到了：" + LONG, False)


async def test_past_the_deadline_memory_keeps_only_what_was_sent(
    served: tuple[str, Path],
) -> None:
    url, database = served
    event = private_message(LONG)
    first = await first_part_then_drop(url, event)
    deadline = time.monotonic() + RESEND_WITHIN + 10
    while stored_reply(database, event)[0] != first:
        assert time.monotonic() < deadline, stored_reply(database, event)
        await asyncio.sleep(0.2)
    # Back after the deadline: the dropped parts stay dropped; the next message is answered.
    async with connect(url, additional_headers=HEADERS) as ws:
        control = private_message("还在吗")
        await ws.send(json.dumps(control))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 3})
        assert texts(action) == "亚托莉听到了：还在吗"


# A member of their own: the module's other tests use up USER_ID's limits.
IN_FLIGHT_ID = 4012
# NoneBot's api_timeout (30 s) is how long an unanswered part used to wait before it was
# kept for the account's return; the account is back within a second here.
RESENT_WITHIN = 5.0


async def test_a_part_in_flight_as_the_connection_drops_goes_out_once_the_account_is_back(
    served: tuple[str, Path],
) -> None:
    url, database = served
    event = private_message(LONG, user_id=IN_FLIGHT_ID)
    later = private_message("还有一件事", user_id=IN_FLIGHT_ID)
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(event))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 80})
        first = texts(action)
        in_flight = texts(await next_action(ws))  # never answered: the connection drops
        await ws.send(json.dumps(later))  # her reply to it must wait for the whole first
    async with reconnected(url) as ws:
        back = time.monotonic()
        sent = [await asyncio.wait_for(next_action(ws), RESENT_WITHIN)]
        resent_after = time.monotonic() - back
        await answer(ws, sent[0], {"message_id": 81})
        for part in range(2):
            sent.append(await next_action(ws))
            await answer(ws, sent[-1], {"message_id": 82 + part})
    assert resent_after < RESENT_WITHIN
    # Unconfirmed, it is sent again (it may show twice, never goes missing); then the
    # rest, in order; then her next reply in that chat, which quotes its message.
    quoted = [action["params"]["message"][0]["type"] == "reply" for action in sent]
    assert texts(sent[0]) == in_flight and quoted == [False, False, True]
    assert "".join([first, texts(sent[0]), texts(sent[1])]) == "亚托莉听到了：" + LONG
    assert texts(sent[2]) == "亚托莉听到了：还有一件事"
    assert stored_reply(database, event) == ("亚托莉听到了：" + LONG, False)


async def test_the_parts_of_a_reply_are_the_larger_of_pause_and_gap_apart_not_their_sum(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(group_message("亚托莉 " + LONG)))
        arrived, confirmed = [], []
        for part in range(3):
            action = await next_action(ws)
            arrived.append(time.monotonic())
            await answer(ws, action, {"message_id": 10 + part})
            confirmed.append(time.monotonic())
    # Each counted from the moment the previous part was confirmed sent.
    waited = [later - earlier for earlier, later in zip(confirmed, arrived[1:], strict=False)]
    floor = max(PART_PAUSE, SEND_GAP)
    assert all(floor * 0.95 <= wait < floor + min(PART_PAUSE, SEND_GAP) * 0.6 for wait in waited), (
        waited
    )


async def test_a_recalled_message_is_archived_with_her_reply(served: tuple[str, Path]) -> None:
    url, database = served
    async with connect(url, additional_headers=HEADERS) as ws:
        event = group_message("亚托莉 撤回这句")
        await ws.send(json.dumps(event))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 4})
        assert stored_reply(database, event) == ("亚托莉听到了：撤回这句", False)
        notice = group_recall(event)
        await ws.send(json.dumps(notice))
        deadline = time.monotonic() + 10
        while not stored_reply(database, event)[1]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


async def test_a_message_whose_recall_reaches_her_first_gets_no_reply(
    served: tuple[str, Path],
) -> None:
    """Each event is handled on its own, so a recall can reach the worker before the
    message it takes back: she answered it all the same and remembered it."""
    url, database = served
    async with connect(url, additional_headers=HEADERS) as ws:
        event = group_message("亚托莉 我的密码是 hunter2")
        notice = group_recall(event)
        await ws.send(json.dumps(notice))
        await asyncio.sleep(0.5)  # the recall is handled
        await ws.send(json.dumps(event))
        control = group_message("亚托莉 还在吗")
        await asyncio.sleep(0.5)
        await ws.send(json.dumps(control))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 6})
        assert texts(action) == "亚托莉听到了：还在吗"  # the first reply she sends
    with sqlite3.connect(database) as con:
        said = [r[0] for r in con.execute("SELECT content FROM messages WHERE role = 'user'")]
    assert "我的密码是 hunter2" not in said


async def test_an_at_in_the_middle_addresses_her_and_other_ats_stay_as_names(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    async with connect(url, additional_headers=HEADERS) as ws:
        event = group_message(
            [
                {"type": "at", "data": {"qq": "5000"}},
                {"type": "text", "data": {"text": "和"}},
                {"type": "at", "data": {"qq": "5001", "name": "@小红"}},
                {"type": "text", "data": {"text": "去吗，"}},
                {"type": "at", "data": {"qq": SELF_ID}},
                {"type": "text", "data": {"text": "好吗"}},
            ]
        )
        await ws.send(json.dumps(event))
        action = await next_action(ws)  # 5000's name is asked for; 5001's came with the @
        assert action["action"] == "get_group_member_info"
        assert action["params"] == {"group_id": event["group_id"], "user_id": 5000}
        await answer(ws, action, {"user_id": 5000, "card": "", "nickname": "小明"})
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 5})
        assert texts(action) == "亚托莉听到了：@小明和@小红去吗，好吗"
        # Someone whose name cannot be found stays their QQ number; no @ of her: silence.
        await ws.send(json.dumps(group_message([{"type": "at", "data": {"qq": "5000"}}])))
        event = group_message(
            [
                {"type": "at", "data": {"qq": "5002"}},
                {"type": "text", "data": {"text": " 你好"}},
                {"type": "at", "data": {"qq": SELF_ID}},
            ]
        )
        await ws.send(json.dumps(event))
        action = await next_action(ws)
        failure = {"status": "failed", "retcode": 100, "data": None, "echo": action["echo"]}
        await ws.send(json.dumps(failure))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 6})
        assert texts(action) == "亚托莉听到了：@5002 你好"


async def test_two_replies_in_one_group_never_interleave_their_parts(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    other = "另一个人的问题也很长。它也会被分成好几段发出去呢。"
    expected = {"亚托莉听到了：" + LONG, "亚托莉听到了：" + other}
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(group_message("亚托莉 " + LONG)))
        await ws.send(json.dumps(group_message("亚托莉 " + other, user_id=USER_ID + 1)))
        sent: list[dict[str, Any]] = []
        while sum(len(texts(a)) for a in sent) < sum(map(len, expected)):
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 20 + len(sent)})
            sent.append(action)
    assert len(sent) >= 4  # both replies came in parts
    # Each reply's parts in a row: its quoting first part, then the rest.
    replies, current = [], ""
    for action in sent:
        quotes = action["params"]["message"][0]["type"] == "reply"
        if quotes and current:
            replies.append(current)
            current = ""
        current += texts(action)
    replies.append(current)
    assert set(replies) == expected, [texts(a) for a in sent]


# A member and group of their own: the module's other tests use up USER_ID's limits.
MEMORY_ASKER = 4010
MEMORY_GROUP = 302


async def private_parts_then_group_line(ws: ClientConnection) -> list[str]:
    """The private parts of a `/atri memory` answer, up to her line in the group."""
    private: list[str] = []
    while True:
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 40 + len(private)})
        if action["action"] != "send_private_msg":
            assert action["params"]["group_id"] == MEMORY_GROUP
            return private
        assert action["params"]["user_id"] == MEMORY_ASKER
        assert action["params"]["group_id"] == MEMORY_GROUP  # the temporary session's
        private.append(texts(action))


async def test_memory_sent_privately_and_cut_by_a_lost_connection_is_finished_once(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    ask: dict[str, Any] = {"user_id": MEMORY_ASKER, "group_id": MEMORY_GROUP}
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(group_message("亚托莉 " + LONG, **ask)))
        for part in range(3):
            await answer(ws, await next_action(ws), {"message_id": 30 + part})
        await ws.send(json.dumps(group_message("/atri memory", **ask)))
        whole = await private_parts_then_group_line(ws)
        assert len(whole) > 2
        # Asked again, and the connection drops after the first private part.
        await ws.send(json.dumps(group_message("/atri memory", **ask)))
        action = await next_action(ws)
        assert action["action"] == "send_private_msg"
        await answer(ws, action, {"message_id": 50})
        first = texts(action)
    await asyncio.sleep(PART_PAUSE * 2)  # the next part finds no connection
    async with connect(url, additional_headers=HEADERS) as ws:
        rest = await private_parts_then_group_line(ws)
        with pytest.raises(TimeoutError):  # nothing sent twice, nothing after her line
            await asyncio.wait_for(next_action(ws), PART_PAUSE * 3)
    assert [first, *rest] == whole


async def test_her_group_line_waits_for_the_rest_of_a_cut_private_memory(
    served_slowly: tuple[str, Path],
) -> None:
    # The connection drops after the first private part; the second finds none (SLOW_GAP
    # after the first) and waits for the account; her group line saying the message is
    # there then waited its turn in the send queue (SLOW_GAP after that), and whenever
    # the account was back by then it went out first, the private message's rest after
    # it. Here the account is back halfway between the two.
    url, _ = served_slowly
    ask: dict[str, Any] = {"user_id": MEMORY_ASKER, "group_id": MEMORY_GROUP}
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(group_message("亚托莉 你好", **ask)))
        await answer(ws, await next_action(ws), {"message_id": 70})
        await ws.send(json.dumps(group_message("/atri memory", **ask)))
        action = await next_action(ws)
        assert action["action"] == "send_private_msg"
        await answer(ws, action, {"message_id": 71})
        first = texts(action)
    await asyncio.sleep(SLOW_GAP * 1.5)
    sent: list[tuple[str, str]] = []  # what went out after the reconnect, until quiet
    async with connect(url, additional_headers=HEADERS) as ws:
        with contextlib.suppress(TimeoutError):
            while True:
                action = await asyncio.wait_for(next_action(ws), SLOW_GAP * 1.5)
                await answer(ws, action, {"message_id": 72 + len(sent)})
                sent.append((action["action"], texts(action)))
    kinds = [kind for kind, _ in sent]
    assert kinds[-1] == "send_msg" and kinds[:-1] == ["send_private_msg"] * (len(kinds) - 1)
    assert len(kinds) > 2  # the private message's rest, then her line
    assert "亚托莉听到了：你好" in "".join([first, *(text for _, text in sent[:-1])])


# A normal stop of the echo server takes a second or two; the resend below would hold it
# for most of a minute.
STOPS_WITHIN = 8.0


async def stop_quickly(proc: subprocess.Popen[str], log_file: Path) -> None:
    """Ctrl+C stops `atri serve` within STOPS_WITHIN, with nothing in its log that
    says a task was lost or failed."""
    stopping = time.monotonic()
    proc.send_signal(signal.SIGINT)
    while proc.poll() is None and time.monotonic() - stopping < STOPS_WITHIN * 3:
        await asyncio.sleep(0.1)  # the connection is closed as the server stops
    stopped_after = time.monotonic() - stopping
    log = log_file.read_text()
    assert stopped_after < STOPS_WITHIN, log
    assert "Task was destroyed" not in log and "Traceback" not in log, log


async def test_stopping_while_a_connect_hook_resends_ends_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """NoneBot runs connect hooks shielded from cancellation and waits for them at
    shutdown: one resending a cut reply, waiting its turn in the send queue, held the
    stop until it was done (and the handler that sent the reply, shielded too, until the
    reply was over). Now the resend is cancelled, the reply dropped, and memory keeps
    what was sent."""
    # Two sends a minute: the first part and the second's try (no connection) use them
    # up, so the resend on the reconnect waits about a minute for its turn.
    with serving(tmp_path_factory, PART_PAUSE, 0, sends_per_minute=2, resend_within=60) as (
        url,
        database,
        proc,
    ):
        event = private_message(LONG)
        first = await first_part_then_drop(url, event)
        await asyncio.sleep(PART_PAUSE * 2)  # the next part finds no connection
        async with reconnected(url) as ws:
            with pytest.raises(TimeoutError):  # the hook waits its turn to resend
                await asyncio.wait_for(next_action(ws), 2)
            await stop_quickly(proc, database.parent / "serve.log")
        assert stored_reply(database, event) == (first, False)


# A member of their own: the module's other tests use up USER_ID's limits.
MINUTE_ID = 4014


async def test_stopping_while_replies_wait_for_their_turn_in_the_minute_ends_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """NoneBot runs message handlers shielded from cancellation and waits for them at
    shutdown: one waiting its turn under `sends_per_minute` held the stop until its turn
    came (then its send found the connection closed and waited for the account). Now it
    stops at once and sends nothing, and memory archives the exchange, as it does a reply
    dropped whole while it waits for its account."""
    # One send a minute: the first reply uses it, the second waits most of a minute for
    # its turn, and the third (the same conversation) waits for the second.
    with serving(tmp_path_factory, PART_PAUSE, 0, sends_per_minute=1) as (url, database, proc):
        sent, *waiting = (
            private_message(text, user_id=MINUTE_ID) for text in ["你好", "在吗", "还在吗"]
        )
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(sent))
            await answer(ws, await next_action(ws), {"message_id": 90})
            for event in waiting:
                await ws.send(json.dumps(event))
            with pytest.raises(TimeoutError):  # the second waits for its turn
                await asyncio.wait_for(next_action(ws), 2)
            await stop_quickly(proc, database.parent / "serve.log")
    assert stored_reply(database, sent) == ("亚托莉听到了：你好", False)
    assert stored_reply(database, waiting[0]) == ("亚托莉听到了：在吗", True)
    assert stored_reply(database, waiting[1]) == ("亚托莉听到了：还在吗", True)


# A member and group of their own, and someone whose name is asked for.
NAME_ASKER = 4013
NAME_GROUP = 303
STRANGER = 5003


def about_the_stranger(text: str) -> dict[str, Any]:
    """A group message that @s STRANGER (no name with the @) and then her."""
    message = [
        {"type": "at", "data": {"qq": str(STRANGER)}},
        {"type": "text", "data": {"text": text}},
        {"type": "at", "data": {"qq": SELF_ID}},
    ]
    return group_message(message, user_id=NAME_ASKER, group_id=NAME_GROUP)


async def test_a_name_asked_for_as_the_connection_drops_does_not_hold_the_message(
    served: tuple[str, Path],
) -> None:
    """NoneBot waits `api_timeout` (30 s) for an answer that a dropped connection never
    brings: a message waited that long for the name of someone it @s. Now the lookup ends
    with the connection, the message is answered (the QQ number standing for the name) as
    soon as the account is back, and the next message asks for the name again."""
    url, _ = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(about_the_stranger(" 你好")))
        action = await next_action(ws)  # never answered: the connection drops
        assert action["action"] == "get_group_member_info"
    async with reconnected(url) as ws:
        back = time.monotonic()
        action = await asyncio.wait_for(next_action(ws), RESENT_WITHIN)
        answered_after = time.monotonic() - back
        await answer(ws, action, {"message_id": 95})
        assert action["params"]["message"][0]["type"] == "reply"
        assert texts(action) == f"亚托莉听到了：@{STRANGER} 你好"
        await ws.send(json.dumps(about_the_stranger(" 还在吗")))
        action = await next_action(ws)  # the number was not remembered as the name
        assert action["action"] == "get_group_member_info"
        await answer(ws, action, {"user_id": STRANGER, "card": "小蓝", "nickname": "蓝"})
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 96})
        assert texts(action) == "亚托莉听到了：@小蓝 还在吗"
    assert answered_after < RESENT_WITHIN


# A member of their own; "typing" renewed as often as [qq] allows, and a chat that takes
# three times as long as the worker lets a lone message wait for company (its longest
# batch window): her echo says "作为AI", out of character, so it is generated thrice.
TYPING_ID = 4015
TYPING_EVERY = 1.0
THINKS_MS = 1000
THOUGHT = "作为AI你在想什么"


async def raw_action(ws: ClientConnection) -> dict[str, Any]:
    """The next call NoneBot makes, "typing" too; the questions an account is asked on
    connecting are answered."""
    while True:
        action = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
        if action["action"] != "get_robot_uin_range":
            return dict(action)
        await answer(ws, action, ROBOT_RANGE)


async def test_typing_in_flight_as_the_connection_drops_goes_on_over_the_new_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A "typing" call in flight as the connection dropped waited NoneBot's api_timeout
    (30 s), and typing was not shown again while she still thought, though the account
    was back. Now the call ends with the connection, and typing goes on over the
    account's new connection until her reply."""
    with serving(
        tmp_path_factory, PART_PAUSE, 0, typing_seconds=TYPING_EVERY, batch_window_ms=THINKS_MS
    ) as (url, _, _):
        event = private_message(THOUGHT, user_id=TYPING_ID)
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(event))
            action = await raw_action(ws)  # never answered: the connection drops
            assert action["action"] == "set_input_status"
        async with reconnected(url) as ws:
            calls: list[dict[str, Any]] = []
            while not calls or calls[-1]["action"] == "set_input_status":
                calls.append(await raw_action(ws))
                await answer(ws, calls[-1], {"message_id": 97})
    names = [action["action"] for action in calls]
    assert names[0] == "set_input_status" and names[-1] == "send_msg", names
    assert calls[0]["params"] == {"user_id": TYPING_ID, "event_type": 1}
    assert texts(calls[-1]) == f"亚托莉听到了：{THOUGHT}"

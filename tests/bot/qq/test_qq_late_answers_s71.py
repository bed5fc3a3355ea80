"""Session 71: a send the OneBot implementation answers only after ATRI's 15 s wait.

NapCat under load answered `ok` after 20 s: the group read her reply, yet ATRI logged it
as "not sent", archived it and kept the question as a room line, so she answered it again
later. And a half-open socket (a network blink), closed by the pings only after those
15 s, made the send in flight a "refusal" (mute, risk control) instead of a cut reply
sent again once the account is back. Now the answer is awaited until NoneBot's
`api_timeout`, out of the account's send queue. Over a real WebSocket to `atri serve`,
the test playing NapCat; the memory is the server's SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from bot.qq.sending import SEND_ANSWER_SECONDS
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_messages_e2e import reconnected, stored_reply, texts
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_room_e2e import room_contents
from tests.bot.qq.test_serve_e2e import (
    GROUP_ID,
    HEADERS,
    USER_ID,
    answer,
    group_message,
    next_action,
)

# NoneBot's api_timeout for the server: an answer still counts until then, 5 s past
# ATRI's own wait.
API_TIMEOUT = SEND_ANSWER_SECONDS + 5
EXTRA_QQ = "room_context = true\nresend_within_seconds = 10"


def log_words(root: Path) -> str:
    """The server's log as words (the console wraps a long line)."""
    return " ".join((root / "serve.log").read_text(encoding="utf-8").split())


async def test_a_send_confirmed_late_keeps_her_reply_and_the_chat_goes_on(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TIMEOUT", str(API_TIMEOUT))
    root = tmp_path_factory.mktemp("late-ok")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq=EXTRA_QQ) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            event = group_message(f"{HER} 在吗")
            await ws.send(json.dumps(event))
            action = await next_action(ws)
            await asyncio.sleep(SEND_ANSWER_SECONDS + 1)
            await answer(ws, action, {"message_id": 701})  # sent after all, and said so
            later = group_message(f"{HER} 你好")
            await ws.send(json.dumps(later))
            follow = await next_action(ws)
            await answer(ws, follow, {"message_id": 702})
            await asyncio.sleep(0.5)
            sent = texts(action)
            kept = stored_reply(database, event)
            heard = room_contents(database)
    log = log_words(root)
    assert kept == (sent, False)  # remembered as sent, not archived
    assert heard == []  # the question is no unanswered room line
    assert texts(follow).endswith("你好")
    assert (
        f"QQ send to group {GROUP_ID}: not confirmed within {SEND_ANSWER_SECONDS:g} s by the "
        "OneBot implementation; its answer is awaited up to 5 s more" in log
    )
    assert re.search(rf"QQ send to group {GROUP_ID} confirmed after 1[5-9] s: it was sent", log)
    assert "taken as refused" not in log and "was not sent" not in log


async def test_a_connection_lost_while_a_send_awaits_its_answer_cuts_the_reply(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-open socket: the send gets no answer, and the connection is closed only
    after ATRI's 15 s (as the pings close it). The part goes out again on the account's
    new connection, as any part of a cut reply does, and her memory keeps it."""
    monkeypatch.setenv("API_TIMEOUT", str(API_TIMEOUT))
    root = tmp_path_factory.mktemp("late-drop")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq=EXTRA_QQ) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            event = group_message(f"{HER} 明天见")
            await ws.send(json.dumps(event))
            in_flight = texts(await next_action(ws))  # never answered
            await asyncio.sleep(SEND_ANSWER_SECONDS + 1)
        async with reconnected(url) as ws:
            resent = await next_action(ws)
            await answer(ws, resent, {"message_id": 801})
            await asyncio.sleep(0.5)
            kept = stored_reply(database, event)
            heard = room_contents(database)
    log = log_words(root)
    assert texts(resent) == in_flight
    assert resent["params"]["message"][0]["type"] == "reply"  # still its first part
    assert kept == (in_flight, False)
    assert heard == []
    assert f"QQ send to group {GROUP_ID} cut off" in log
    assert "taken as refused" not in log


async def test_a_send_never_answered_is_taken_as_refused_not_as_unsent(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer until NoneBot's api_timeout on a connection that stays up: as before,
    her reply is archived and the question kept as a room line; the log no longer says
    it was not sent (it may well have been)."""
    api_timeout = SEND_ANSWER_SECONDS + 2
    monkeypatch.setenv("API_TIMEOUT", str(api_timeout))
    root = tmp_path_factory.mktemp("late-never")
    database = root / "memory.sqlite3"
    with serve_e2e.serving(root, extra_qq=EXTRA_QQ) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            event = group_message(f"{HER} 几点了")
            await ws.send(json.dumps(event))
            await next_action(ws)  # never answered
            deadline = time.monotonic() + api_timeout + 10
            while not room_contents(database):
                assert time.monotonic() < deadline, "the question never became a room line"
                await asyncio.sleep(0.2)
            archived = stored_reply(database, event)[1]
            heard = room_contents(database)
    log = log_words(root)
    assert archived
    assert heard == [(str(USER_ID), "几点了")]
    assert (
        f"QQ send to group {GROUP_ID}: not confirmed by the OneBot implementation within "
        f"{api_timeout:g} s; taken as refused: ATRI may be muted there, removed from the "
        "group, or the account is under risk control (see the OneBot implementation's log); "
        "the reply is taken as not sent and is not remembered (the message it answered is "
        "kept as a room line)." in log
    )

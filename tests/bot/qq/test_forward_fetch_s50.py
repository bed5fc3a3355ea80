"""A forwarded chat record (合并转发) sent as an id only (go-cqhttp, Lagrange, LLOneBot) is
fetched with `get_forward_msg` and read as NapCat's inline record is; a fetch that fails
or is slow leaves it unread, as before, and only a message she answers is fetched.

End to end: `atri serve` on the echo engine, which answers "亚托莉听到了：<what the model
was given>", reached over a real WebSocket; the test answers the adapter's API calls as
each implementation does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bot.qq.forwards import FETCH_SECONDS
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
    serving,
)

ECHO = "亚托莉听到了："
FORWARD_ID = "7350000000000000001"
UNREAD_LINE = "这段聊天记录亚托莉打不开……把想说的直接打字告诉我吧！"
UNREAD_NOTE = "（转发了一段聊天记录，内容看不到）"
FAILED = {"status": "failed", "retcode": 100, "data": None}


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve")) as url:
        yield url


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": text}}


FORWARD = {"type": "forward", "data": {"id": FORWARD_ID}}  # as go-cqhttp reports it


def _to_her(*segments: dict[str, Any], user_id: int) -> dict[str, Any]:
    return group_message([{"type": "at", "data": {"qq": SELF_ID}}, *segments], user_id=user_id)


def _napcat_item(name: str, message: Any) -> dict[str, Any]:
    """One message of NapCat's (and Lagrange's) answer: a message report."""
    return {
        "self_id": int(SELF_ID),
        "user_id": 4100,
        "time": 0,
        "message_id": 1,
        "message_type": "group",
        "sender": {"user_id": 4100, "nickname": name, "card": ""},
        "message": message,
        "message_format": "array",
    }


def _gocq_item(name: str, content: Any) -> dict[str, Any]:
    """One message of go-cqhttp's answer: `content`, a CQ string or segments."""
    return {"content": content, "sender": {"nickname": name, "user_id": 4100}, "time": 0}


async def _answered(url: str, event: dict[str, Any], record: Any) -> tuple[str, list[Any]]:
    """Report `event`; the text of her reply, and the params of each `get_forward_msg`.
    `record`: the answer's data, FAILED for a failed call, or None to never answer."""
    fetched = []
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(event))
        while True:
            action = await next_action(ws)
            if action["action"] == "get_forward_msg":
                fetched.append(action["params"])
                if record is FAILED:
                    await ws.send(json.dumps(FAILED | {"echo": action["echo"]}))
                elif record is not None:
                    await answer(ws, action, record)
                continue
            await answer(ws, action, {"message_id": 1})
            return check_quoted_reply(action["params"]["message"], event), fetched


RECORD_READ = "（转发了一段聊天记录：\n小明: 周五晚上八点开黑\n小红: ［CQ:at,qq=all] 来\n）"


async def test_a_record_sent_as_its_id_is_fetched_and_read(ws_url: str) -> None:
    """go-cqhttp sent only the id: she said she could not open what she can fetch."""
    napcat = {
        "messages": [
            _napcat_item("小明", [_text("周五晚上八点开黑")]),
            _napcat_item("小红", [_text("[CQ:at,qq=all] 来")]),
        ]
    }
    gocq = {
        "messages": [
            _gocq_item("小明", "周五晚上八点开黑"),  # a CQ-code string
            _gocq_item("小红", [_text("[CQ:at,qq=all] 来")]),
        ]
    }
    # OneBot v11's own answer: `message`, a list of node segments.
    nodes = {
        "message": [
            {"type": "node", "data": {"nickname": "小明", "content": "周五晚上八点开黑"}},
            {"type": "node", "data": {"nickname": "小红", "content": [_text("[CQ:at,qq=all] 来")]}},
        ]
    }
    for user_id, record in ((4601, napcat), (4602, gocq), (4612, nodes)):
        said, fetched = await _answered(ws_url, _to_her(FORWARD, user_id=user_id), record)
        assert fetched == [{"id": FORWARD_ID}]
        assert said == ECHO + RECORD_READ
    # Beside words, the words come first, as the record was sent after them.
    said, _ = await _answered(ws_url, _to_her(_text(" 你看看"), FORWARD, user_id=4603), gocq)
    assert said == ECHO + "你看看" + RECORD_READ


async def test_a_record_inside_the_fetched_one_is_only_noted(ws_url: str) -> None:
    nested = {"type": "forward", "data": {"id": "7350000000000000002"}}
    record = {"messages": [_gocq_item("小明", [_text("看这个"), nested])]}
    said, fetched = await _answered(ws_url, _to_her(FORWARD, user_id=4604), record)
    assert fetched == [{"id": FORWARD_ID}]  # the inner record is not fetched
    assert said == ECHO + f"（转发了一段聊天记录：\n小明: 看这个{UNREAD_NOTE}\n）"


async def test_a_failed_fetch_or_an_unknown_answer_leaves_the_record_unread(ws_url: str) -> None:
    for user_id, record in ((4605, FAILED), (4606, {"nodes": []}), (4607, {"messages": []})):
        said, fetched = await _answered(ws_url, _to_her(FORWARD, user_id=user_id), record)
        assert fetched == [{"id": FORWARD_ID}]
        assert said == UNREAD_LINE
    said, _ = await _answered(ws_url, _to_her(_text(" 你看看"), FORWARD, user_id=4608), FAILED)
    assert said == ECHO + "你看看" + UNREAD_NOTE


async def test_a_slow_fetch_is_given_up_within_its_bound(ws_url: str) -> None:
    """An implementation that never answers holds the reply up `FETCH_SECONDS` at most
    (NoneBot alone would wait its `api_timeout`, 30 s)."""
    start = time.monotonic()
    said, fetched = await _answered(ws_url, _to_her(FORWARD, user_id=4609), None)
    assert fetched == [{"id": FORWARD_ID}]
    assert said == UNREAD_LINE
    assert time.monotonic() - start < FETCH_SECONDS + 2


async def test_only_a_message_she_answers_is_fetched(tmp_path: Path) -> None:
    """With room context she hears every group message: a record she only listens to is
    noted unread, with no call to the implementation; one sent to her is fetched."""
    record = {"messages": [_gocq_item("小明", "周五晚上八点开黑")]}
    with serving(tmp_path, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(group_message([_text("大家看看"), FORWARD], user_id=4610)))
            await asyncio.sleep(0.5)  # heard (and kept as room context) before the question
        said, fetched = await _answered(url, _to_her(FORWARD, user_id=4611), record)
    assert fetched == [{"id": FORWARD_ID}]  # the question's record only
    assert f"夏生(4610)：大家看看{UNREAD_NOTE}" in said
    question = said.split("夏生(4611)：")[1]  # the room's lines came first
    assert question.startswith("（转发了一段聊天记录：") and "小明: 周五晚上八点开黑" in question

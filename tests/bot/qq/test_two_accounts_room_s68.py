"""Two of ATRI's accounts in a group with room context on: a message @-ing, or quoting,
account B was never answered when it reached account A first. A's room matcher took it
as heard (`first_to_take`), and B, reaching its chat matcher, found it taken. A now
leaves a message addressed to another of her connected accounts to that account. Over a
real WebSocket to `atri serve`, the test playing NapCat for both accounts, in both
arrival orders."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_quiet_groups_s51 import no_action
from tests.bot.qq.test_quiet_heard_s54 import connected
from tests.bot.qq.test_room_e2e import room_contents
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    OTHER_SELF_ID,
    SELF_ID,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
)

QUOTED_ID = 777


def at_other(words: str) -> list[dict[str, Any]]:
    return [
        {"type": "at", "data": {"qq": OTHER_SELF_ID}},
        {"type": "text", "data": {"text": f" {words}"}},
    ]


def quote_of_other(words: str) -> list[dict[str, Any]]:
    return [
        {"type": "reply", "data": {"id": str(QUOTED_ID)}},
        {"type": "text", "data": {"text": words}},
    ]


async def tell_whose_quote(ws: ClientConnection) -> None:
    """The adapter asks whose message was quoted: account B's."""
    get_msg = await next_action(ws)
    assert get_msg["action"] == "get_msg"
    quoted = {"time": 0, "message_type": "group", "message_id": QUOTED_ID, "real_id": QUOTED_ID}
    await answer(ws, get_msg, quoted | {"sender": {"user_id": int(OTHER_SELF_ID)}, "message": "嗯"})


@pytest.mark.parametrize("quoted", [False, True], ids=["at", "quote"])
@pytest.mark.parametrize("b_first", [False, True], ids=["a-first", "b-first"])
async def test_a_message_for_account_b_is_answered_by_b_whichever_account_gets_it_first(
    tmp_path_factory: pytest.TempPathFactory, b_first: bool, quoted: bool
) -> None:
    root = tmp_path_factory.mktemp("two-accounts-room")
    other_headers = {**HEADERS, "X-Self-ID": OTHER_SELF_ID}
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with (
            connect(url, additional_headers=HEADERS) as a,
            connect(url, additional_headers=other_headers) as b,
        ):
            await connected(a)
            await connected(b)
            await asyncio.sleep(0.3)  # both accounts known to NoneBot
            message = quote_of_other("真的吗") if quoted else at_other("你好")
            reports = {
                ws: group_message(message, self_id=s)
                for ws, s in ((a, SELF_ID), (b, OTHER_SELF_ID))
            }
            for ws in (b, a) if b_first else (a, b):
                await ws.send(json.dumps(reports[ws]))
                if quoted:
                    await tell_whose_quote(ws)
                await asyncio.sleep(0.2)  # this account's handlers run first
            action = await next_action(b)
            await answer(b, action, {"message_id": 1})
            said = check_quoted_reply(action["params"]["message"], reports[b])
            assert said == (
                "亚托莉听到了：（引用了你说过的话：嗯）真的吗" if quoted else "亚托莉听到了：你好"
            )
            await no_action(a)  # no second answer, nothing taken as heard only
    assert room_contents(root / "memory.sqlite3") == []

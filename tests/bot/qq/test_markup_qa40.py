"""Names QQ members choose, echoed back in her reply: a group card or nickname holding a
CQ code or "@全体成员" reaches her prompt (as a room line's speaker, or as the name of
someone @'d) and so her reply. `atri serve` over a real OneBot v11 WebSocket; the echo
engine repeats the prompt's last message, room lines included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.bot.qq.test_room_e2e import ASKER_ID, OTHER_XIASHENG_ID, named, room_holds
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    ROBOT_RANGE,
    _text,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
    serving,
)

CQ_NAME = "[CQ:at,qq=all]@全体成员"
LOOKED_UP_ID = 4010


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("serve-markup")
    with serving(root, extra_qq="room_context = true") as url:
        yield url, root / "memory.sqlite3"


async def test_a_name_holding_a_cq_code_is_echoed_as_plain_text(
    served: tuple[str, Path],
) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await answer(ws, json.loads(await asyncio.wait_for(ws.recv(), 10)), ROBOT_RANGE)
        heard = named(group_message("大家好", user_id=OTHER_XIASHENG_ID), CQ_NAME)
        await ws.send(json.dumps(heard))
        await room_holds(db, 1)
        event = group_message(
            [
                *_text("亚托莉 你认识 "),
                {"type": "at", "data": {"qq": str(LOOKED_UP_ID)}},
                *_text(" 吗"),
            ],
            user_id=ASKER_ID,
        )
        await ws.send(json.dumps(named(event, CQ_NAME)))
        look_up = await next_action(ws)
        assert look_up["action"] == "get_group_member_info"
        await answer(ws, look_up, {"card": CQ_NAME})
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 1})
    segments = action["params"]["message"]
    text = check_quoted_reply(segments, event)  # a quote, one @ of the asker, and text
    assert "[CQ:" not in text and "@全体成员" not in text
    # The speaker, the asker (the prompt keeps no ":" in a speaker's name), the @'d.
    assert text.count("＠全体成员") == 3 and "@［CQ:at,qq=all]＠全体成员" in text

"""Session 73 (privacy): a member who left the group or was kicked stayed in its room:
their lines went on into every later prompt there, and her replies quoted them, for up to
`[room] max_age_hours`. Their room lines there are archived when QQ says they left; her
own removal archives nothing. The real `atri serve` over a real OneBot v11 WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tests.bot.qq.test_room_e2e import (
    ASKER_ID,
    OTHER_XIASHENG_ID,
    live_contents,
    room_holds,
    served,  # noqa: F401  (the module's served fixture: `atri serve` with room context)
)
from tests.bot.qq.test_serve_e2e import (
    GROUP_ID,
    HEADERS,
    ROBOT_RANGE,
    SELF_ID,
    answer,
    check_quoted_reply,
    group_message,
    reply_to,
)


def group_decrease(user_id: int, sub_type: str = "kick") -> dict[str, Any]:
    """The notice NapCat sends when `user_id` leaves (`leave`) or is removed (`kick`,
    `kick_me` for the bot itself)."""
    return {
        "time": int(time.time()),
        "self_id": int(SELF_ID),
        "post_type": "notice",
        "notice_type": "group_decrease",
        "sub_type": sub_type,
        "group_id": GROUP_ID,
        "operator_id": 10001,
        "user_id": user_id,
    }


async def test_a_member_who_left_is_quoted_no_more(served: tuple[str, Path]) -> None:  # noqa: F811
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await answer(ws, json.loads(await asyncio.wait_for(ws.recv(), 10)), ROBOT_RANGE)
        said = int(time.time()) + 60  # after the lines of the tests before
        line = group_message("我家住在幸福路88号", user_id=OTHER_XIASHENG_ID) | {"time": said}
        await ws.send(json.dumps(line))
        assert (await room_holds(db, 1))[-1][1] == "我家住在幸福路88号"
        await ws.send(json.dumps(group_decrease(int(SELF_ID), "kick_me")))  # hers: nothing
        await ws.send(json.dumps(group_decrease(OTHER_XIASHENG_ID)))
        deadline = time.monotonic() + 10
        while "我家住在幸福路88号" in live_contents(db):
            assert time.monotonic() < deadline, live_contents(db)
            await asyncio.sleep(0.05)
        event = group_message("亚托莉 小明还在吗", user_id=ASKER_ID)
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert "幸福路" not in text

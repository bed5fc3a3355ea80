"""Session 64 on QQ, over a real WebSocket: a message that begins with her name running
on into the sentence keeps the name. NoneBot cuts a leading nickname off, so
"亚托莉的主人是谁" (who is Atri's master?) reached her, and her memory, as "的主人是谁".
A name set apart by a comma or a blank is still cut, and her reset keyword still works
after her name."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    answer,
    group_message,
    next_action,
    silent_until_next,
    ws_url,
)
from tests.bot.qq.test_serve_qa39 import said_in

__all__ = ["ws_url"]  # the module's server, as test_serve_e2e starts it


async def test_her_name_running_on_into_the_sentence_is_kept(ws_url: str) -> None:
    events = {
        4101: group_message("亚托莉的主人是谁", user_id=4101),
        4102: group_message("ATRI's favourite food?", user_id=4102),
        4103: group_message("アトリちゃん元気？", user_id=4103),
        4104: group_message("亚托莉，早上好", user_id=4104),  # set apart: cut
        4105: group_message("亚托莉重置记忆", user_id=4105),
    }
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        for event in events.values():
            await ws.send(json.dumps(event))
        answered = {}
        for _ in events:
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 1})
            answered[action["params"]["user_id"]] = said_in(action)
        reset = answered.pop(4105)
        assert answered == {
            4101: "亚托莉听到了：亚托莉的主人是谁",
            4102: "亚托莉听到了：ATRI's favourite food?",
            4103: "亚托莉听到了：アトリちゃん元気？",
            4104: "亚托莉听到了：早上好",
        }
        assert "亚托莉听到了" not in reset and "不会再接着" in reset, reset  # the reset ran
        await silent_until_next(ws, SELF_ID)

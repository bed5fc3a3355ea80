"""QA round 39 on QQ: `atri serve` reached over a real WebSocket, as NapCat reaches it."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect

from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    _text,
    answer,
    group_message,
    next_action,
    silent_until_next,
    ws_url,
)

__all__ = ["ws_url"]  # the module's server, as test_serve_e2e starts it


def said_in(action: dict[str, Any]) -> str:
    segments = action["params"]["message"]
    return "".join(s["data"]["text"] for s in segments if s["type"] == "text").strip()


async def test_her_name_at_the_start_of_a_longer_word_is_not_her_name(ws_url: str) -> None:
    """NoneBot takes a message that starts with one of her names as said to her, and cuts
    the name off: a Japanese group praising the Atelier games ("アトリエ") or a word
    like "ATRIUM" got her answer to "エシリーズ最高" or "UM 很漂亮"."""
    at_her = [{"type": "at", "data": {"qq": SELF_ID}}]
    events = [
        group_message("アトリエシリーズ最高", user_id=4011),  # not for her
        group_message("ATRIUM 很漂亮", user_id=4012),  # not for her
        group_message("アトリは可愛い", user_id=4013),  # her name, then a particle
        group_message([*at_her, *_text(" ATRIUM好看吗")], user_id=4014),  # an @ of her
        group_message("亚托莉酱早上好", user_id=4015),  # a Han suffix: her name still
    ]
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        for event in events:
            await ws.send(json.dumps(event))
        answered = {}
        for _ in range(3):
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 1})
            answered[action["params"]["user_id"]] = said_in(action)
        assert answered == {
            4013: "亚托莉听到了：アトリは可愛い",  # the name runs on: kept (session 64)
            4014: "亚托莉听到了：ATRIUM好看吗",
            4015: "亚托莉听到了：亚托莉酱早上好",
        }
        await silent_until_next(ws, SELF_ID)

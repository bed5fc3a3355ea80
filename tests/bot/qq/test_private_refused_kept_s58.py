"""Session 58: in a private chat, a reply QQ refuses whole no longer takes the person's
message with it. In a group, what was said to her stays a room line; a private chat has
none, so her memory keeps the message, unanswered, and only her unsent reply is
archived. Through `atri serve` and a OneBot v11 peer over a real WebSocket."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.bot.qq.test_messages_e2e import serving, stored_reply, texts
from tests.bot.qq.test_refused_ban_s55 import live_messages
from tests.bot.qq.test_serve_e2e import HEADERS, answer, next_action, private_message

# What NapCat answers a send to someone who is no longer a friend.
REFUSED = {"status": "failed", "retcode": 1200, "data": None, "message": "not a friend"}


async def test_a_refused_private_reply_keeps_what_was_said_to_her(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serving(tmp_path_factory, 0, 0) as (url, database, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            refused = private_message("你还记得我吗")
            await ws.send(json.dumps(refused))
            action = await next_action(ws)
            await ws.send(json.dumps(REFUSED | {"echo": action["echo"]}))
            await asyncio.sleep(0.5)
            answered = private_message("今天天气很好")
            await ws.send(json.dumps(answered))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 7})
            assert texts(action) == "亚托莉听到了：今天天气很好"
            await asyncio.sleep(0.3)
        # Her refused reply is archived; the message it answered is not.
        assert stored_reply(database, refused)[1]
        assert live_messages(database) == [
            ("user", "你还记得我吗"),
            ("user", "今天天气很好"),
            ("assistant", "亚托莉听到了：今天天气很好"),
        ]

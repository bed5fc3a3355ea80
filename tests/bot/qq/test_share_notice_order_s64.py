"""Session 64 on QQ, over a real WebSocket: the notice that a member's share of the
group's replies is used up follows the answers it speaks of. The share is counted when a
message arrives, and the notice was posted at once: a member flooding her read "I've
answered you a lot already" before any of the answers (which take a real model seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from websockets.asyncio.client import connect

from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    _text,
    answer,
    group_message,
    next_action,
    serving,
)
from tests.bot.qq.test_serve_qa39 import said_in


async def test_the_share_notice_comes_after_the_answers(tmp_path: Path) -> None:
    at_her = [{"type": "at", "data": {"qq": SELF_ID}}]
    with serving(tmp_path, replies_per_minute=6) as url:  # a member's share is 3
        async with connect(url, additional_headers=HEADERS) as ws:
            for n in range(5):
                event = group_message([*at_her, *_text(f" 刷屏{n}")], user_id=4800)
                await ws.send(json.dumps(event))
            said = []
            for _ in range(4):  # three answers and one notice
                action = await next_action(ws)
                await answer(ws, action, {"message_id": 1})
                said.append(said_in(action))
    assert sorted(said[:3]) == [f"亚托莉听到了：刷屏{n}" for n in range(3)], said
    assert "回了你好多句" in said[3], said

"""Session 64 on QQ, over a real WebSocket: the notice that a member's share of the
group's replies is used up follows the answers it speaks of. The share is counted when a
message arrives, and the notice was posted at once: a member flooding her read "I've
answered you a lot already" before any of the answers (which take a real model seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from websockets.asyncio.client import connect

from tests.bot.qq.events import GROUP_ID, SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    SEND_GAP,
    _free_port,
    _text,
    answer,
    group_message,
    next_action,
    serve_process,
)
from tests.bot.qq.test_serve_qa39 import said_in

CONFIG = """
[model]
engine = "echo"
[memory]
path = "memory.sqlite3"
[reload]
enabled = false
[qq]
enabled = true
port = {port}
allowed_groups = ["{group}"]
split_pause_seconds = 0
send_gap_seconds = {gap}
send_retry_seconds = {gap}
max_replies_per_minute = 6
sends_per_minute = 0
"""


async def test_the_share_notice_comes_after_the_answers(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=port, group=GROUP_ID, gap=SEND_GAP), encoding="utf-8")
    at_her = [{"type": "at", "data": {"qq": SELF_ID}}]
    with serve_process(tmp_path, config, port):
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        async with connect(url, additional_headers=HEADERS) as ws:
            for n in range(5):  # a share is 3 of the group's 6
                event = group_message([*at_her, *_text(f" 刷屏{n}")], user_id=4800)
                await ws.send(json.dumps(event))
            said = []
            for _ in range(4):  # three answers and one notice
                action = await next_action(ws)
                await answer(ws, action, {"message_id": 1})
                said.append(said_in(action))
    assert sorted(said[:3]) == [f"亚托莉听到了：刷屏{n}" for n in range(3)], said
    assert "回了你好多句" in said[3], said

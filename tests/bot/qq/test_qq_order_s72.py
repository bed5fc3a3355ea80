"""Session 72 on QQ, over a real WebSocket to `atri serve`: the "your message was cut"
notice no longer lets the member's next message reach the worker first (QQ splits a long
paste into several messages; the later one was answered and stored first), and a repeated
`/atri mode` is no change, so a flood of them meets the reply cap."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from websockets.asyncio.client import connect

from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    USER_ID,
    answer,
    group_message,
    next_action,
    private_message,
    serving,
    silent_until_next,
)
from tests.bot.qq.test_serve_qa39 import said_in


async def test_the_message_after_a_cut_one_is_answered_and_stored_after_it(
    tmp_path: Path,
) -> None:
    long_text = "起" + "啊" * MAX_INPUT_CHARS + "终"
    with serving(tmp_path) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(private_message(long_text)))
            notice = await next_action(ws)
            assert said_in(notice) == lines().input_cut.format(count=MAX_INPUT_CHARS)
            # The member's next message, while OneBot is slow to confirm the notice.
            await ws.send(json.dumps(private_message("第二条")))
            await asyncio.sleep(0.5)
            await answer(ws, notice, {"message_id": 1})
            said: list[str] = []
            while not said or "第二条" not in said[-1]:
                action = await next_action(ws)
                await answer(ws, action, {"message_id": len(said) + 2})
                said.append(said_in(action))
    assert said[0].startswith("亚托莉听到了：起啊"), said
    assert said[-1] == "亚托莉听到了：第二条", said
    with sqlite3.connect(tmp_path / "memory.sqlite3") as db:
        heard = [
            text
            for (text,) in db.execute(
                "SELECT content FROM messages WHERE role = 'user' AND user_id = ? ORDER BY id",
                (str(USER_ID),),
            )
        ]
    assert [text[:2] for text in heard] == ["起啊", "第二"]


async def test_a_flood_of_the_same_mode_meets_the_reply_cap(tmp_path: Path) -> None:
    """`[qq] max_replies_per_minute = 4` (a member's share is 2): a group admin sending
    `/atri mode on` ten times at once got ten confirmations, each taken as a change."""
    with serving(tmp_path, replies_per_minute=4) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            for _ in range(10):
                command = group_message("/atri mode on", user_id=4100, role="admin")
                await ws.send(json.dumps(command))
            said: list[str] = []
            for _ in range(3):  # their share's confirmations, then its notice
                action = await next_action(ws)
                await answer(ws, action, {"message_id": 1})
                said.append(said_in(action))
            confirmed = lines().mode_done("mention", "qq")
            assert said == [confirmed, confirmed, lines().share_used_up]
            # The other nine say nothing: the next send answers another member.
            await silent_until_next(ws, SELF_ID)

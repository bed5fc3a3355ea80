"""Session 44: one member cannot take every reply in a group, through `atri serve` and a
OneBot v11 peer over a real WebSocket, with the limits a config leaves as shipped (20
messages a minute per person, 20 replies a minute per group)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from atri.config import QQSettings, WorkerSettings
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_messages_e2e import serving, texts
from tests.bot.qq.test_serve_e2e import HEADERS, USER_ID, answer, group_message, next_action

OTHER_ID = 4013


def to_her(text: str, user_id: int) -> dict[str, Any]:
    return group_message([{"type": "at", "data": {"qq": SELF_ID}}, _text(text)], user_id)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": " " + text}}


async def answered(ws: ClientConnection) -> tuple[int, str]:
    """Whose message the next send answers (the @ in it), and its text; confirmed."""
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    (at,) = [seg for seg in action["params"]["message"] if seg["type"] == "at"]
    return int(at["data"]["qq"]), texts(action)


async def test_a_member_flooding_a_group_leaves_replies_to_the_others(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    per_minute = QQSettings().max_replies_per_minute
    assert per_minute == WorkerSettings().rate_limit_per_minute == 20
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            for n in range(per_minute):
                await ws.send(json.dumps(to_her(f"第{n}条", USER_ID)))
            flood = [await answered(ws) for _ in range(per_minute // 2)]
            await ws.send(json.dumps(to_her("轮到我了", OTHER_ID)))
            other = await answered(ws)
    flooded = {(USER_ID, f"亚托莉听到了：第{n}条") for n in range(per_minute)}
    assert len(set(flood)) == per_minute // 2 and set(flood) <= flooded  # her share
    assert other == (OTHER_ID, "亚托莉听到了：轮到我了")

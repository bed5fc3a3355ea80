"""Session 44: one member cannot take every reply in a group, through `atri serve` and a
OneBot v11 peer over a real WebSocket, with the limits a config leaves as shipped (20
messages a minute per person, 20 replies a minute per group)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from atri.config import QQSettings, WorkerSettings
from bot.lines import lines
from bot.qq.text import reply_parts
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
    at, text = await sent(ws)
    assert at is not None
    return at, text


async def sent(ws: ClientConnection) -> tuple[int | None, str]:
    """The next send: whom it @s (a reply's first part does), and its text; confirmed."""
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    ats = [seg for seg in action["params"]["message"] if seg["type"] == "at"]
    return (int(ats[0]["data"]["qq"]) if ats else None), texts(action)


def joined(sends: list[tuple[int | None, str]]) -> list[tuple[int, str]]:
    """Sends as whole replies: a part with no @ goes on with the reply before it (the
    test server cuts a reply at 20 characters)."""
    replies: list[tuple[int, str]] = []
    for at, text in sends:
        if at is None:
            replies[-1] = (replies[-1][0], replies[-1][1] + text)
        else:
            replies.append((at, text))
    return replies


async def test_a_member_flooding_a_group_leaves_replies_to_the_others(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    per_minute = QQSettings().max_replies_per_minute
    assert per_minute == WorkerSettings().rate_limit_per_minute == 20
    with serving(tmp_path_factory, 0, 0) as (url, _, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            for n in range(per_minute):
                await ws.send(json.dumps(to_her(f"第{n}条", USER_ID)))
            # Her share, and once (session 46) the notice that it is used up.
            notice = lines().share_used_up
            notice_parts = len(reply_parts(notice, 20, QQSettings().max_reply_parts))
            flood = joined([await sent(ws) for _ in range(per_minute // 2 + notice_parts)])
            await ws.send(json.dumps(to_her("轮到我了", OTHER_ID)))
            other = await answered(ws)
    assert flood.count((USER_ID, notice)) == 1
    answers = [reply for reply in flood if reply != (USER_ID, notice)]
    flooded = {(USER_ID, f"亚托莉听到了：第{n}条") for n in range(per_minute)}
    assert len(set(answers)) == per_minute // 2 and set(answers) <= flooded  # her share
    assert other == (OTHER_ID, "亚托莉听到了：轮到我了")

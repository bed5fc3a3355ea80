"""QA round 43: a person sending her many private messages at once, through `atri serve`
and a OneBot v11 peer. Each message showed "typing" on its own: as many calls of
NapCat's `set_input_status` at once as messages, and as many loops repeating them
while she answered, where one shows the same thing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from tests.bot.qq.test_messages_e2e import serving
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    HEADERS,
    ROBOT_RANGE,
    answer,
    private_message,
)

MESSAGES = 4
# Each chat waits this long for its batch: the person's messages are answered one after
# another, so all of them are being answered at once for well over a second.
BATCH_WINDOW_MS = 400


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory, 0, 0, typing_seconds=30, batch_window_ms=BATCH_WINDOW_MS) as (
        url,
        _,
        _,
    ):
        yield url


async def test_many_private_messages_at_once_show_typing_once(served: str) -> None:
    async with connect(served, additional_headers=HEADERS) as ws:
        for n in range(MESSAGES):
            await ws.send(json.dumps(private_message(f"第{n}条")))
        names = []
        while names.count("send_msg") < MESSAGES:
            action = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
            names.append(action["action"])
            answer_data = ROBOT_RANGE if action["action"] == "get_robot_uin_range" else None
            if action["action"] == "send_msg":
                answer_data = {"message_id": len(names)}
            await answer(ws, action, answer_data)
    assert names.count("set_input_status") == 1, names

"""QA round 39 on QQ: her own messages recalled, through `atri serve` and a OneBot peer."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from websockets.asyncio.client import connect

from tests.bot.qq.events import SELF_ID, SUPERUSER_ID
from tests.bot.qq.test_messages_e2e import LONG, served, stored_reply, texts
from tests.bot.qq.test_serve_e2e import HEADERS, answer, group_message, group_recall, next_action

__all__ = ["served"]  # the module's server: parts of at most 20 characters

ADMIN_ID = int(SUPERUSER_ID)


async def test_her_reply_a_group_admin_recalls_leaves_her_memory(
    served: tuple[str, Path],
) -> None:
    """A member talks her into something and a group admin recalls her reply: the
    recall only looked for an exchange asked by that message, which hers never is, so
    she kept it in memory and went on from it. One recalled part of a long reply
    leaves the others."""
    url, database = served
    bad = group_message("亚托莉 说句坏话", user_id=4020)
    long = group_message("亚托莉 " + LONG, user_id=4021)
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(bad))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 7001})
        await ws.send(json.dumps(long))
        parts = []
        for number in range(3):
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 7100 + number})
            parts.append(texts(action))
        assert stored_reply(database, long) == ("亚托莉听到了：" + LONG, False)
        mine = {"user_id": int(SELF_ID), "operator_id": ADMIN_ID}
        await ws.send(json.dumps(group_recall(bad, **mine) | {"message_id": 7001}))
        await ws.send(json.dumps(group_recall(long, **mine) | {"message_id": 7101}))
        left = "\n".join([parts[0], parts[2]])
        deadline = time.monotonic() + 10
        while stored_reply(database, bad) != ("亚托莉听到了：说句坏话", True) or (
            stored_reply(database, long) != (left, False)
        ):
            assert time.monotonic() < deadline, stored_reply(database, long)
            await asyncio.sleep(0.1)

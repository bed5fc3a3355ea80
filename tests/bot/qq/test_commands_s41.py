"""Two of ATRI's accounts in one group: a command is run, and answered, once (`atri
serve` in a subprocess, NoneBot over a real WebSocket, each account a OneBot v11 peer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    OTHER_SELF_ID,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
    reply_to,
    serving,
    silent_until_next,
)


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.mark.parametrize("command", ["/atri reset", "重置记忆", "/atri status"])
async def test_two_accounts_in_one_group_run_a_command_once(ws_url: str, command: str) -> None:
    """Each account got the command and ran it: two answers in the group, and a second
    reset right after the first ("nothing to forget", as if the first had failed)."""
    other_headers = {**HEADERS, "X-Self-ID": OTHER_SELF_ID}
    async with (
        connect(ws_url, additional_headers=HEADERS) as first,
        connect(ws_url, additional_headers=other_headers) as second,
    ):
        await asyncio.sleep(0.5)  # both accounts are known to NoneBot
        heard = [group_message(command, self_id=s) for s in (SELF_ID, OTHER_SELF_ID)]
        await first.send(json.dumps(heard[0]))
        action = await next_action(first)
        await answer(first, action, {"message_id": 1})
        assert check_quoted_reply(action["params"]["message"], heard[0])
        await second.send(json.dumps(heard[1]))
        await silent_until_next(second, OTHER_SELF_ID)


async def test_a_group_turned_off_stays_silent_to_members_commands(ws_url: str) -> None:
    """`/atri mode off` is silence in the group: a member's `/atri status` (or anyone
    saying 重置记忆 to someone else) was still answered there. Its admins' commands are,
    so they can turn her back on."""
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        event = group_message("/atri mode off", role="admin")
        assert "不说话" in check_quoted_reply(await reply_to(ws, event), event)
        for said in ("/atri status", "重置记忆", "/atri mode on"):
            await ws.send(json.dumps(group_message(said)))
        event = group_message("/atri status", role="owner")
        assert "排队中" in check_quoted_reply(await reply_to(ws, event), event)
        event = group_message("/atri mode on", role="admin")
        await reply_to(ws, event)
        await silent_until_next(ws, SELF_ID)

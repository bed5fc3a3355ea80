"""Session 56: NapCat posts a poke (戳一戳) in a private chat twice, as the poke notice
and as a message holding a `poke` segment. The message alone got her picture line ("I
cannot see pictures"), and with both answered she would have said it twice. Now a
message that is only a poke of her is answered as the poke it is, and a poke that comes
both ways is answered once. Through `atri serve` and a OneBot v11 peer over a real
WebSocket, the test playing NapCat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq.test_poke_s39 import POKED, poke, said, stored
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    answer,
    group_message,
    next_action,
    private_message,
    serving,
)

# Longer than the plugin's POKE_ECHO_SECONDS: a poke after it is a poke of its own.
AFTER_THE_ECHO = 3.2
# NapCat's poke segment: the kind of poke, no target.
NAPCAT_POKE = {"type": "poke", "data": {"type": "1", "id": "1"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Every poke answered (no cooldown): only the echo of one poke is not."""
    root = tmp_path_factory.mktemp("serve-poke-segment")
    with serving(root, extra_qq="poke_cooldown_seconds = 0") as url:
        yield url, root / "memory.sqlite3"


def poke_message(user_id: int, segment: dict[str, Any] = NAPCAT_POKE) -> dict[str, Any]:
    """A private message NapCat posts for a poke: the poke segment alone."""
    event = private_message("", user_id=user_id)
    event["message"] = [segment]
    event["raw_message"] = "[CQ:poke,type=1,id=1]"
    return event


async def answered(ws: ClientConnection, user_id: int) -> str:
    """The next send, to `user_id` privately, confirmed: its text."""
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    assert action["params"]["user_id"] == user_id
    assert action["params"].get("message_type", "private") == "private"
    return said(action)


async def test_a_private_poke_segment_alone_is_a_poke_not_a_picture(
    served: tuple[str, Path],
) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(poke_message(5601)))
        reply = await answered(ws, 5601)
    assert reply == POKED  # before: her picture line
    assert stored(db, 5601) == [("user", "夏生", "（戳了戳你）"), ("assistant", "亚托莉", POKED)]


@pytest.mark.parametrize("notice_first", [True, False])
async def test_a_poke_posted_as_notice_and_message_is_answered_once(
    served: tuple[str, Path], notice_first: bool
) -> None:
    url, db = served
    user = 5602 if notice_first else 5603
    both = [poke(user, group_id=None), poke_message(user)]
    async with connect(url, additional_headers=HEADERS) as ws:
        for event in both if notice_first else both[::-1]:
            await ws.send(json.dumps(event))
        assert await answered(ws, user) == POKED
        # The next send answers the next message: no second answer to the poke.
        await ws.send(json.dumps(private_message("还在吗", user_id=user)))
        assert await answered(ws, user) == "亚托莉听到了：还在吗"
        # A poke of its own, after the echo's moment, is answered again.
        await asyncio.sleep(AFTER_THE_ECHO)
        await ws.send(json.dumps(poke_message(user)))
        assert await answered(ws, user) == POKED
    assert [content for role, _, content in stored(db, user) if role == "user"] == [
        "（戳了戳你）",
        "还在吗",
        "（戳了戳你）",
    ]


async def test_a_poke_segment_of_someone_else_is_no_poke_of_her(
    served: tuple[str, Path],
) -> None:
    """A group message that is only a poke segment naming another member (`qq`) is not
    answered; one naming her is, as her poke, @ing the poker."""
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        other = group_message([{"type": "poke", "data": {"qq": "4099"}}], user_id=5604)
        await ws.send(json.dumps(other))
        hers = group_message([{"type": "poke", "data": {"qq": "2000"}}], user_id=5605)
        await ws.send(json.dumps(hers))
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 2})
    assert said(action) == POKED
    assert {"type": "at", "data": {"qq": "5605"}} in action["params"]["message"]
    assert stored(db, 5604) == []
    assert [content for role, _, content in stored(db, 5605) if role == "user"] == ["（戳了戳你）"]

"""A poke (戳一戳) of her on QQ, through `atri serve` and a OneBot v11 peer: answered as a
message saying she was poked, remembered, and under the limits a message is."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq.events import GROUP_ID, SELF_ID
from tests.bot.qq.test_serve_e2e import (
    BLOCKED_ID,
    HEADERS,
    OTHER_GROUP_ID,
    answer,
    group_message,
    next_action,
    private_answer,
    reply_to,
    serving,
    silent_until_next,
)

POKED = "亚托莉听到了：（戳了戳你）"  # the echo model's answer to her poke note


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("serve-poke")
    with serving(root) as url:  # pokes answered, one per person a minute (the defaults)
        yield url, root / "memory.sqlite3"


def poke(
    user_id: int, target_id: int | str = SELF_ID, group_id: int | None = GROUP_ID
) -> dict[str, Any]:
    """The notice NapCat sends when `user_id` pokes `target_id` (in a group, or privately:
    no group_id)."""
    notice: dict[str, Any] = {
        "time": int(time.time()),
        "self_id": int(SELF_ID),
        "post_type": "notice",
        "notice_type": "notify",
        "sub_type": "poke",
        "user_id": user_id,
        "target_id": int(target_id),
    }
    if group_id is not None:
        notice["group_id"] = group_id
    return notice


def said(action: dict[str, Any]) -> str:
    segments = action["params"]["message"]
    return "".join(s["data"]["text"] for s in segments if s["type"] == "text").strip()


async def group_reply_to_poke(ws: ClientConnection, user_id: int, card: str = "") -> str:
    """Poke her now in the group: the poker's name is looked up, then her reply @s them
    (nothing to quote). Its text."""
    await ws.send(json.dumps(poke(user_id)))
    look_up = await next_action(ws)
    assert look_up["action"] == "get_group_member_info"
    assert look_up["params"] == {"group_id": GROUP_ID, "user_id": user_id}
    await answer(ws, look_up, {"card": card, "nickname": f"u{user_id}"})
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    params = action["params"]
    assert action["action"] == "send_msg"
    assert (params["message_type"], params["group_id"]) == ("group", GROUP_ID)
    segments = params["message"]
    assert {s["type"] for s in segments} == {"at", "text"}
    assert [s for s in segments if s["type"] == "at"] == [
        {"type": "at", "data": {"qq": str(user_id)}}
    ]
    return said(action)


def stored(db: Path, user_id: int) -> list[tuple[str, str, str]]:
    """Her memory of `user_id`'s conversation: (role, display name, content)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT role, display_name, content FROM messages WHERE scope IN"
            " (SELECT scope FROM messages WHERE user_id = ?) AND archived = 0 ORDER BY id",
            (str(user_id),),
        ).fetchall()
    return [(str(r), str(n), str(c)) for r, n, c in rows]


async def test_a_poke_of_her_in_a_group_is_answered_and_remembered(
    served: tuple[str, Path],
) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        assert await group_reply_to_poke(ws, 4030, card="小李") == POKED
    assert stored(db, 4030) == [
        ("user", "小李", "（戳了戳你）"),
        ("assistant", "亚托莉", POKED),
    ]


async def test_only_a_poke_of_her_by_someone_allowed_is_answered(
    served: tuple[str, Path],
) -> None:
    """Pokes of someone else, by a blocked member, and in a group not allowed: silent; a
    poke of her right after is answered (and nothing before it was sent)."""
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        for notice in [
            poke(4031, target_id=4099),  # a member poking another member
            poke(BLOCKED_ID),
            poke(4031, group_id=OTHER_GROUP_ID),
        ]:
            await ws.send(json.dumps(notice))
        assert await group_reply_to_poke(ws, 4032) == POKED
    assert stored(db, 4031) == []
    assert stored(db, BLOCKED_ID) == []


async def test_one_poke_a_minute_per_person_is_answered(served: tuple[str, Path]) -> None:
    """A member poking her again and again gets one answer; another member still gets
    theirs."""
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        assert await group_reply_to_poke(ws, 4033) == POKED
        for _ in range(5):
            await ws.send(json.dumps(poke(4033)))
        assert await group_reply_to_poke(ws, 4034) == POKED
        await silent_until_next(ws, SELF_ID)
    assert [content for role, _, content in stored(db, 4033) if role == "user"] == ["（戳了戳你）"]


async def test_a_group_an_admin_turned_off_is_silent_to_pokes(served: tuple[str, Path]) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await reply_to(ws, group_message("/atri mode off", user_id=4037, role="admin"))
        await ws.send(json.dumps(poke(4038)))
        # Checked while the group is still off (each event is handled in its own task).
        assert await private_answer(ws, "对照") == "亚托莉听到了：对照"
        await reply_to(ws, group_message("/atri mode on", user_id=4037, role="admin"))
        assert await group_reply_to_poke(ws, 4039) == POKED
    assert stored(db, 4038) == []


async def test_a_private_poke_is_answered_privately(served: tuple[str, Path]) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(poke(4035, group_id=None)))
        action = await next_action(ws)  # past "typing": no name to look up
        await answer(ws, action, {"message_id": 1})
        assert action["action"] == "send_private_msg"
        assert action["params"]["user_id"] == 4035
        assert "group_id" not in action["params"]
        assert said(action) == POKED
    assert stored(db, 4035) == [("user", "", "（戳了戳你）"), ("assistant", "亚托莉", POKED)]


async def test_pokes_are_ignored_with_answer_pokes_off(tmp_path: Path) -> None:
    with serving(tmp_path, extra_qq="answer_pokes = false\npoke_cooldown_seconds = 0") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(poke(4036)))
            await ws.send(json.dumps(poke(4036, group_id=None)))
            control = group_message("亚托莉 在吗", user_id=4036)
            await ws.send(json.dumps(control))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 1})
            assert said(action) == "亚托莉听到了：在吗"
        assert [c for _, _, c in stored(tmp_path / "memory.sqlite3", 4036)] == [
            "在吗",
            "亚托莉听到了：在吗",
        ]

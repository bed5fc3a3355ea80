"""Room context in a QQ group: `atri serve` reached over a real OneBot v11 WebSocket."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from atri.config import Settings
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    BLOCKED_ID,
    HEADERS,
    OFFICIAL_BOT_ID,
    OTHER_GROUP_ID,
    ROBOT_RANGE,
    USER_ID,
    _text,
    answer,
    check_quoted_reply,
    group_message,
    group_recall,
    next_action,
    private_message,
    reply_to,
    serving,
)

HEADING = "（群里其他人刚才说的话）"
OTHER_XIASHENG_ID = 4002
ASKER_ID = 4003
NAMELESS_ID = 4004


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("serve-room")
    with serving(root, extra_qq="room_context = true") as url:
        yield url, root / "memory.sqlite3"


def room_contents(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT user_id, content FROM room_lines ORDER BY said_at, id"
        ).fetchall()
    return [(str(user), str(text)) for user, text in rows]


async def room_holds(db: Path, count: int) -> list[tuple[str, str]]:
    """The room once `count` lines are in it (NoneBot handles each event in its own task)."""
    for _ in range(300):
        lines = room_contents(db)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.02)
    return room_contents(db)


def named(event: dict[str, Any], nickname: str) -> dict[str, Any]:
    event["sender"]["nickname"] = nickname
    return event


async def test_she_hears_the_group_and_tells_two_members_of_one_name_apart(
    served: tuple[str, Path],
) -> None:
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        asked = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert asked["action"] == "get_robot_uin_range"
        await answer(ws, asked, ROBOT_RANGE)  # official bots are known from now on
        await asyncio.sleep(0.2)
        for event in [
            group_message("机器人的播报", user_id=OFFICIAL_BOT_ID),
            group_message("她自己的话", user_id=int(SELF_ID)),
            group_message("被屏蔽的人的话", user_id=BLOCKED_ID),
            group_message("别的群的话", group_id=OTHER_GROUP_ID),
            group_message("今天下雨了"),
        ]:
            await ws.send(json.dumps(event))
        # NoneBot handles each event in its own task, so two lines sent a moment apart
        # may be stored in either order: the second waits for the first.
        await room_holds(db, 1)
        await ws.send(json.dumps(group_message("我带伞了", user_id=OTHER_XIASHENG_ID)))
        assert await room_holds(db, 2) == [
            (str(USER_ID), "今天下雨了"),
            (str(OTHER_XIASHENG_ID), "我带伞了"),
        ]
        # Nothing was sent for them: the first action is the answer to the question.
        event = named(group_message("亚托莉 外面天气怎么样？", user_id=ASKER_ID), "阿强")
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text == "亚托莉听到了：" + "\n".join(
            [
                HEADING,
                f"夏生({USER_ID})：今天下雨了",
                f"夏生({OTHER_XIASHENG_ID})：我带伞了",
                "",
                "阿强：外面天气怎么样？",
            ]
        )
        # A private chat is nobody's room: it is answered, and not kept.
        await ws.send(json.dumps(private_message("私聊的话")))
        action = await next_action(ws)  # past "typing", which private chats get first
        await answer(ws, action, {"message_id": 1})
        assert action["action"] == "send_msg" and action["params"]["user_id"] == USER_ID
    assert len(room_contents(db)) == 2


async def test_lines_that_reach_her_out_of_order_keep_the_groups_order(
    served: tuple[str, Path],
) -> None:
    """NoneBot handles each report in its own task. OneBot gives whole seconds: a later
    second goes after, and within one second the order the reports came in holds, even
    when the first is still being read (a name being looked up) as the second is stored."""
    url, db = served
    said = int(time.time()) + 1  # after the lines of the test before
    async with connect(url, additional_headers=HEADERS) as ws:
        await answer(ws, json.loads(await asyncio.wait_for(ws.recv(), 10)), ROBOT_RANGE)
        earlier = before = len(room_contents(db))
        later = group_message("一小时后见", user_id=OTHER_XIASHENG_ID)
        await ws.send(json.dumps(later | {"time": said + 1}))
        before = len(await room_holds(db, before + 1))
        # Someone @'d with no name in the segment: the name is looked up, and held here.
        first = group_message(
            [{"type": "at", "data": {"qq": str(NAMELESS_ID)}}, *_text(" 今天下雨了")]
        )
        await ws.send(json.dumps(first | {"time": said}))
        look_up = await next_action(ws)
        assert look_up["action"] == "get_group_member_info"
        await ws.send(json.dumps(group_message("我带伞了", user_id=ASKER_ID) | {"time": said}))
        before = len(await room_holds(db, before + 1))
        await answer(ws, look_up, {"card": "小李"})
        lines = (await room_holds(db, before + 1))[earlier:]
        assert lines == [
            (str(USER_ID), "@小李 今天下雨了"),
            (str(ASKER_ID), "我带伞了"),
            (str(OTHER_XIASHENG_ID), "一小时后见"),
        ]
        event = group_message("亚托莉 刚才说什么了？", user_id=ASKER_ID)
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text.endswith(
            f"夏生({USER_ID})：@小李 今天下雨了\n夏生({ASKER_ID})：我带伞了\n"
            f"夏生({OTHER_XIASHENG_ID})：一小时后见\n\n夏生({ASKER_ID})：刚才说什么了？"
        )


def live_contents(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT content FROM room_lines WHERE archived = 0 ORDER BY said_at, id"
        ).fetchall()
    return [str(text) for (text,) in rows]


async def test_a_message_she_only_heard_and_its_author_recalled_is_in_no_later_prompt(
    served: tuple[str, Path],
) -> None:
    """A phone number posted by mistake and recalled at once: the recall found no
    exchange to archive, and the line went on into every later prompt of the group."""
    url, db = served
    async with connect(url, additional_headers=HEADERS) as ws:
        await answer(ws, json.loads(await asyncio.wait_for(ws.recv(), 10)), ROBOT_RANGE)
        before = len(room_contents(db))
        said = int(time.time()) + 5  # after the lines of the tests before
        line = group_message("我去买伞", user_id=OTHER_XIASHENG_ID) | {"time": said}
        await ws.send(json.dumps(line))
        await room_holds(db, before + 1)
        secret = group_message("我的电话是 13800000000", user_id=OTHER_XIASHENG_ID)
        secret["time"] = said + 1
        await ws.send(json.dumps(secret))
        assert (await room_holds(db, before + 2))[-1][1] == "我的电话是 13800000000"
        # Recalled by an admin, not by whoever said it.
        notice = group_recall(secret, user_id=OTHER_XIASHENG_ID, operator_id=USER_ID)
        await ws.send(json.dumps(notice))
        deadline = time.monotonic() + 10
        while "我的电话是 13800000000" in live_contents(db):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        event = group_message("亚托莉 刚才谁说话了？", user_id=ASKER_ID)
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert "13800000000" not in text
        assert text.endswith(
            f"夏生({OTHER_XIASHENG_ID})：我去买伞\n\n夏生({ASKER_ID})：刚才谁说话了？"
        )


@pytest.mark.slow
async def test_the_whole_path_on_the_offline_model(tmp_path: Path, settings: Settings) -> None:
    """Room lines, then a question: her reply (a few new tokens) is sent to the group."""
    model = f'cache_dir = "{settings.model.cache_dir}"'
    extra = "[generation]\ndo_sample = false\nmax_new_tokens = 4\n[worker]\nooc_max_retries = 0"
    with serving(tmp_path, extra_qq="room_context = true", extra=extra, model=model) as url:
        db = tmp_path / "memory.sqlite3"
        # The handshake waits for the offline model to load: seconds on an idle machine,
        # past websockets' 10 s default on a busy one.
        async with connect(url, additional_headers=HEADERS, open_timeout=120) as ws:
            asked = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await answer(ws, asked, ROBOT_RANGE)
            await ws.send(json.dumps(group_message("It is raining today.")))
            await ws.send(json.dumps(group_message("I have an umbrella.", user_id=ASKER_ID)))
            assert len(await room_holds(db, 2)) == 2
            event = group_message("ATRI, what did they say about the weather?")
            await ws.send(json.dumps(event))
            action = json.loads(await asyncio.wait_for(ws.recv(), 180))  # a guard, as above
            await answer(ws, action, {"message_id": 1})
            assert check_quoted_reply(action["params"]["message"], event)

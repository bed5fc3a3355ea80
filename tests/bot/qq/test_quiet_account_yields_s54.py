"""Two of ATRI's accounts in a group, one of them banned there: a message for her
reached both, and whichever account got it first took it. When that was the banned one,
the message was only kept as a room line, though the other account could answer. The
quiet account now leaves the other a moment to take it. Over a real WebSocket to `atri
serve`, the test playing NapCat for both accounts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_quiet_groups_s51 import ban_notice, no_action
from tests.bot.qq.test_quiet_heard_s54 import connected
from tests.bot.qq.test_room_e2e import room_contents, room_holds
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    OTHER_SELF_ID,
    SELF_ID,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
)


async def test_the_account_that_may_post_answers_though_the_banned_one_got_it_first(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("quiet-yields")
    other_headers = {**HEADERS, "X-Self-ID": OTHER_SELF_ID}
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with (
            connect(url, additional_headers=HEADERS) as banned,
            connect(url, additional_headers=other_headers) as free,
        ):
            await answered_by_the_free_one(banned, free)
    assert room_contents(root / "memory.sqlite3") == []  # answered, not only heard


async def answered_by_the_free_one(banned: ClientConnection, free: ClientConnection) -> None:
    await connected(banned)  # both accounts are known to NoneBot once asked this
    await asyncio.sleep(0.3)
    await banned.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
    await asyncio.sleep(0.3)  # the notice is taken before the message
    heard = [group_message("亚托莉 你们好", self_id=s) for s in (SELF_ID, OTHER_SELF_ID)]
    await banned.send(json.dumps(heard[0]))  # the banned account gets it first
    await asyncio.sleep(0.2)
    await free.send(json.dumps(heard[1]))
    action = await next_action(free)
    await answer(free, action, {"message_id": 1})
    assert check_quoted_reply(action["params"]["message"], heard[1]) == "亚托莉听到了：你们好"
    await no_action(banned)  # nothing sent to be refused, and no second answer


async def test_alone_in_the_group_a_banned_account_still_keeps_what_was_said(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With no other account connected, nothing waits: the quiet account takes it at once
    (as a room line, where room context is on) and sends nothing."""
    root = tmp_path_factory.mktemp("quiet-alone")
    with serve_e2e.serving(root, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as banned:
            await alone_and_banned(banned, root)


async def alone_and_banned(banned: ClientConnection, root: Path) -> None:
    await connected(banned)
    await banned.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
    await banned.send(json.dumps(group_message("亚托莉 在吗")))
    await no_action(banned, seconds=0.5)
    assert [text for _, text in await room_holds(root / "memory.sqlite3", 1)] == ["在吗"]
    await banned.send(json.dumps(ban_notice("lift_ban", SELF_ID, 0)))
    await banned.send(json.dumps(group_message("亚托莉 解禁了")))
    action = await next_action(banned)
    await answer(banned, action, {"message_id": 2})
    assert "解禁了" in json.dumps(action["params"]["message"], ensure_ascii=False)

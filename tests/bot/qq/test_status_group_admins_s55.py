"""Session 55: `/atri status` in a private chat named the groups quiet for her only to
superusers; a group's owner or admin, who can do something about a ban or a mute there,
learnt nothing. Now she remembers whom each group's messages showed as its owner or an
admin (`sender.role`; a later message as "member", or the notice of an admin unset,
forgets them) and tells such a person, privately, of the quiet groups they manage: a
few, the rest counted, and never another group. Over a real WebSocket to `atri serve`,
the test playing NapCat; and the command layer against the real in-process worker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bot import commands, lines
from bot.commands import CANNOT_POST_NAMED, CannotPost
from bot.lines import lines_for
from bot.qq.group_admins import GroupAdmins
from model.service import ChatService
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.events import SUPERUSER_ID
from tests.bot.qq.test_quiet_groups_s51 import ban_notice
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_quiet_status_s54 import answered
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    SELF_ID,
    group_message,
    private_message,
)
from tests.bot.qq.test_whole_mute_at_connect_s54 import take_member_question
from tests.bot.test_commands import member

OTHER_GROUP_ID = 301
ADMIN_ID = 4010
OWNER_ID = 4011
MANAGED = f"你管理的群里，{HER}现在不能发言的地方："
EVERYWHERE = f"{HER}现在不能发言的地方："


def test_admins_are_remembered_until_seen_as_members_and_bounded() -> None:
    admins = GroupAdmins(most=3)
    admins.seen("300", "1", "admin")
    admins.seen("300", "2", "owner")
    admins.seen("301", "1", "member")
    admins.seen("300", "3", None)  # the report said no role
    assert admins.manages("300", "1") and admins.manages("300", "2")
    assert not admins.manages("301", "1") and not admins.manages("300", "3")
    admins.seen("300", "1", None)  # says nothing: still an admin
    assert admins.manages("300", "1")
    admins.seen("300", "1", "member")  # stepped down
    assert not admins.manages("300", "1")
    for group in ("302", "303", "304"):
        admins.seen(group, "9", "admin")
    assert not admins.manages("300", "2")  # the oldest seen went first
    assert all(admins.manages(group, "9") for group in ("302", "303", "304"))


def admin_notice(sub_type: str, user_id: int, group_id: int) -> dict[str, Any]:
    """The notice NapCat sends when the owner makes a member an admin, or unmakes one."""
    return {
        "time": int(time.time()),
        "self_id": int(SELF_ID),
        "post_type": "notice",
        "notice_type": "group_admin",
        "sub_type": sub_type,
        "group_id": group_id,
        "user_id": user_id,
    }


async def test_a_group_admin_asking_privately_is_told_of_the_quiet_groups_they_manage(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("admin-status")
    with serve_e2e.serving(root) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(ban_notice("ban", SELF_ID, 600)))
            await ws.send(json.dumps(ban_notice("ban", 0, 0) | {"group_id": OTHER_GROUP_ID}))
            await take_member_question(ws, OTHER_GROUP_ID)
            # Words not for her, each showing its sender's role there.
            await ws.send(json.dumps(group_message("大家好", user_id=ADMIN_ID, role="admin")))
            await ws.send(
                json.dumps(
                    group_message("晚安", user_id=OWNER_ID, role="owner", group_id=OTHER_GROUP_ID)
                )
            )
            await ws.send(json.dumps(group_message("嗯", user_id=OWNER_ID, role="member")))
            await asyncio.sleep(0.2)
            admin, to_admin = await answered(ws, private_message("/atri status", ADMIN_ID))
            owner, _ = await answered(ws, private_message("/atri status", OWNER_ID))
            plain, _ = await answered(ws, private_message("/atri status"))
            superuser, _ = await answered(ws, private_message("/atri status", int(SUPERUSER_ID)))
            # The admin steps down (seen as a member), the owner's admin role is unset.
            await ws.send(json.dumps(group_message("好的", user_id=ADMIN_ID, role="member")))
            await ws.send(json.dumps(admin_notice("unset", OWNER_ID, OTHER_GROUP_ID)))
            await asyncio.sleep(0.2)
            admin_after, _ = await answered(ws, private_message("/atri status", ADMIN_ID))
            owner_after, _ = await answered(ws, private_message("/atri status", OWNER_ID))
    assert to_admin == "private"
    assert f"{MANAGED}\n群 300 — 账号被禁言了，还剩 10 分钟" in admin
    assert "群 301" not in admin
    assert f"{MANAGED}\n群 301 — 全员禁言中" in owner
    assert "群 300" not in owner  # a member there
    for told in (admin, owner):
        assert "引擎" not in told  # an admin of a group is no admin in a private chat
    assert EVERYWHERE not in plain and "群 30" not in plain
    assert f"{EVERYWHERE}\n群 301 — 全员禁言中\n群 300 — 账号被禁言了" in superuser
    assert MANAGED not in superuser
    for after in (admin_after, owner_after):
        assert EVERYWHERE not in after and "群 30" not in after


@pytest.fixture
def english() -> Iterator[None]:
    before = lines.lines()
    lines._current = lines_for("Yuki", "en")
    yield
    lines._current = before


@pytest.mark.usefixtures("english")
async def test_the_places_a_member_manages_are_a_few_named_the_rest_counted(
    echo_service: ChatService,
) -> None:
    places = [CannotPost(f"group {n}", "refused") for n in range(CANNOT_POST_NAMED + 1)]
    shown = (await commands.status(echo_service, member(), None, [], places)).text.splitlines()
    assert shown[3:] == [
        "Where Yuki cannot post now, of the groups you manage:",
        "group 0 — QQ refused the last sends",
        "group 1 — QQ refused the last sends",
        "group 2 — QQ refused the last sends",
        "…and 1 more",
    ]
    # The whole list is not theirs to see, whatever a platform passes.
    alone = await commands.status(echo_service, member(), None, places)
    assert "cannot post now" not in alone.text

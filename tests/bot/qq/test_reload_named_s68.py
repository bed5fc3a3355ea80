"""`/atri reload <version>` passes the version to the worker (superusers only); a bare
`/atri reload` names none, as before."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot.lines import lines
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, SUPERUSER_ID, group_event
from tests.bot.recorded_reloads import record_reloads

V2 = "20260102-000000"


@pytest.mark.parametrize(
    ("text", "user_id", "asked"),
    [
        (f"/atri reload {V2}", int(SUPERUSER_ID), [V2]),
        ("/atri reload", int(SUPERUSER_ID), [""]),
        (f"/atri reload {V2}", 4000, []),
    ],
    ids=["named", "bare", "group-admin"],
)
async def test_a_superuser_names_the_version_to_switch_to(
    app: App,
    plugin: ModuleType,
    echo_service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    user_id: int,
    asked: list[str],
) -> None:
    versions = record_reloads(monkeypatch, echo_service)
    async with app.test_matcher(plugin.atri_command) as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(text, user_id, "admin")
        ctx.receive_event(bot, event)
        said: dict[str, Any] = {}
        ctx.should_call_send(event, _anything(said), result={"message_id": 1}, bot=bot, **QUOTED)
    assert versions == asked
    if not asked:
        assert str(said["message"]) == lines().owners_only_in("qq")


QUOTED = {"reply_message": True, "at_sender": True}


class _anything:
    """Matches any message sent, keeping it to look at."""

    def __init__(self, into: dict[str, Any]):
        self.into = into

    def __eq__(self, other: object) -> bool:
        self.into["message"] = other
        return True

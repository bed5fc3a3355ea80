"""Names of people @-ed in a group are looked up once a while, not once per message."""

from __future__ import annotations

from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.qq import mentions
from bot.qq.connections import Connections
from tests.bot.qq.events import SELF_ID, group_event


class CountingBot:
    """Answers get_group_member_info as an implementation would, counting the calls."""

    self_id = SELF_ID

    def __init__(self) -> None:
        self.calls = 0
        self.connections = Connections(lambda account: self)  # connected all along

    async def get_group_member_info(self, group_id: int, user_id: int) -> dict[str, Any]:
        self.calls += 1
        return {"user_id": user_id, "card": "", "nickname": f"n{self.calls}"}


async def test_a_member_name_is_looked_up_once_then_again_after_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mentions._names.clear()
    bot: Any = CountingBot()
    up = bot.connections
    assert await mentions.member_name(bot, 1, "5000", up) == "n1"
    assert await mentions.member_name(bot, 1, "5000", up) == "n1"
    assert await mentions.member_name(bot, 2, "5000", up) == "n2"  # another group: its own card
    assert bot.calls == 2
    later = mentions._clock() + mentions.NAME_CACHE_SECONDS + 1
    monkeypatch.setattr(mentions, "_clock", lambda: later)
    assert await mentions.member_name(bot, 1, "5000", up) == "n3"
    assert bot.calls == 3


async def test_a_message_of_many_ats_asks_for_a_few_names_only() -> None:
    """A hundred @s of strangers in one message: a few lookups, then QQ numbers, and
    names already known are still used."""
    mentions._names.clear()
    bot: Any = CountingBot()
    assert await mentions.member_name(bot, 300, "7", bot.connections) == "n1"  # known before
    ats = [MessageSegment.at(n) for n in range(10_000, 10_100)] + [MessageSegment.at(7)]
    text = await mentions.spoken_text(bot, group_event(Message(ats)), bot.connections)
    assert bot.calls == 1 + mentions.MAX_LOOKUPS_PER_MESSAGE
    assert text.startswith("@n2@n3")
    assert "@10099" in text and text.endswith("@n1")

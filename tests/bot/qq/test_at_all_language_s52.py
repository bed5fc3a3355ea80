"""An @ of the whole QQ group reads, in her prompt, as the language she speaks writes
it: "@全体成员" went into an English or Japanese chat whatever the language."""

from __future__ import annotations

from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.lines import use_character
from bot.qq import mentions
from bot.qq.connections import Connections
from bot.qq.forwards import segments_text
from tests.bot.qq.events import SELF_ID, group_event


class NoLookups:
    self_id = SELF_ID

    def __init__(self) -> None:
        self.connections = Connections(lambda account: self)


@pytest.mark.parametrize(
    ("name", "language", "everyone"),
    [("Eileen", "en", "@everyone"), ("ユキ", "ja", "@全員"), ("雪", "zh", "@全体成员")],
)
async def test_an_at_all_is_said_in_her_language(name: str, language: str, everyone: str) -> None:
    use_character(name, language)
    bot: Any = NoLookups()
    message = Message([MessageSegment.at("all"), MessageSegment.text(" meeting at 5")])
    said = await mentions.spoken_text(bot, group_event(message), bot.connections)
    assert said == f"{everyone} meeting at 5"
    # A quoted or forwarded message's @ of everyone reads the same.
    assert segments_text(message) == f"{everyone} meeting at 5"

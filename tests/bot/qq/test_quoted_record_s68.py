"""A quote of a forwarded record (合并转发) whose messages came with it (as `get_msg`
gives them, NapCat's `data.content`) is read as the record: it was "a record she cannot
see", though the same record sent to her is read line by line."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.lines import lines
from bot.qq.quotes import quoted_note
from bot.quoting import quote_note
from tests.bot.qq.events import SELF_ID


def quoting(record: MessageSegment) -> Any:
    sender = SimpleNamespace(user_id=4100, card="小明", nickname="")
    reply = SimpleNamespace(message=Message(record), sender=sender)
    return SimpleNamespace(reply=reply, self_id=int(SELF_ID))


def test_a_quoted_record_with_its_messages_is_read_as_them() -> None:
    inline = MessageSegment(
        "forward",
        {"id": "FF", "content": [{"sender": {"nickname": "甲"}, "message": "转发内容"}]},
    )
    record = lines().forward_note.format(record="甲: 转发内容")
    assert quoted_note(quoting(inline)) == quote_note("小明", record)
    assert "甲: 转发内容" in quoted_note(quoting(inline))


def test_a_quoted_record_sent_as_an_id_only_is_still_said_unseen() -> None:
    by_id = MessageSegment("forward", {"id": "FF"})
    unseen = lines().forward_unread_note
    assert quoted_note(quoting(by_id)) == lines().quote_note.format(who="小明", text=unseen)

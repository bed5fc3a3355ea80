"""The reset keyword said to someone else is not hers: `[CQ:at,qq=another bot] reset memory`,
or a reply to another member's message saying 重置记忆, resets nothing (it wiped the
member's memory with her, and she announced it in the group). Said alone, to her, or in a
reply to her it still resets; an IME's full-width space inside it is any other blank."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Message, MessageSegment
from nonebot.adapters.onebot.v11.event import Reply, Sender

from bot import lines
from tests.bot.qq.events import SELF_ID, group_event

KEYWORDS = [
    ("ATRI", "en", "reset memory"),
    ("亚托莉", "zh", "重置记忆"),
    ("アトリ", "ja", "記憶をリセット"),
]


def _reply_from(user_id: str) -> Reply:
    return Reply(
        time=0,
        message_type="group",
        message_id=12345,
        real_id=12345,
        sender=Sender(user_id=int(user_id)),
        message=Message("earlier words"),
    )


@pytest.mark.parametrize(("name", "language", "words"), KEYWORDS)
async def test_the_keyword_to_someone_else_is_not_hers(
    plugin: ModuleType, name: str, language: str, words: str
) -> None:
    lines.use_character(name, language)
    to_another_bot = group_event(
        Message([MessageSegment.at(987654321), MessageSegment.text(" " + words)])
    )
    assert not await plugin._reset_keyword(to_another_bot)
    # A reply the adapter could not look up keeps its segment: whose it is, unknown.
    unresolved = group_event(Message([MessageSegment.reply(12345), MessageSegment.text(words)]))
    assert not await plugin._reset_keyword(unresolved)
    to_a_member = group_event(words)
    to_a_member.reply = _reply_from("4001")
    assert not await plugin._reset_keyword(to_a_member)


@pytest.mark.parametrize(("name", "language", "words"), KEYWORDS)
async def test_the_keyword_alone_to_her_or_replying_to_her_resets(
    plugin: ModuleType, name: str, language: str, words: str
) -> None:
    lines.use_character(name, language)
    assert await plugin._reset_keyword(group_event(words))
    at_her = group_event(Message([MessageSegment.at(SELF_ID), MessageSegment.text(" " + words)]))
    assert await plugin._reset_keyword(at_her)
    replying_to_her = group_event(words)
    replying_to_her.reply = _reply_from(SELF_ID)
    assert await plugin._reset_keyword(replying_to_her)


async def test_a_full_width_space_inside_the_keyword_is_a_blank(plugin: ModuleType) -> None:
    lines.use_character("アトリ", "ja")
    assert await plugin._reset_keyword(group_event("記憶を\u3000リセット"))
    lines.use_character("亚托莉", "zh")
    assert await plugin._reset_keyword(group_event("重置\u3000记忆"))

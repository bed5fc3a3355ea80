"""Her reply that repeats another member's words leaves with them.

A reply is stored in the conversation of whoever asked. One that repeated a room line
(or a quoted message) of someone else kept their words there, and so in the asker's
later prompts in other groups and private chats, after the speaker recalled the message
or was purged. Real ChatService, real SQLite, the echo engine (which repeats its
prompt's last turn: the room lines leading it, or the quoted words).
"""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest

from atri.config import Settings
from model.grouping import Touch
from model.memory.purged import Repeats
from model.protocol import ChatRequest, MessageRef, ScopeRef
from model.service import ChatService

PHONE = "13800138000"


def said(
    text: str, user: str, channel: str = "g1", addressed: bool = False, request_id: str = ""
) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name={"1": "小明", "2": "小红", "3": "小刚"}[user],
        text=text,
        channel_id=channel,
        addressed=addressed,
        request_id=request_id,
    )


async def _y_repeats_x(service: ChatService) -> tuple[int, int]:
    """X's room line with a phone number; Y asks in the group (her reply repeats it),
    then privately (her reply does not). (id of the repeating reply, of the other)."""
    line = said(f"我的手机号是{PHONE}，别告诉别人", "1", request_id="qq-1")
    assert (await service.chat(line)).status == "heard"
    ask = said("亚托莉 刚才谁说话了？", "2", addressed=True, request_id="qq-2")
    assert PHONE in (await service.chat(ask)).text
    private = said("你好呀，今天过得怎么样", "2", channel="", addressed=True, request_id="qq-3")
    assert PHONE not in (await service.chat(private)).text
    replies = [m for m in await service.memory.all_messages("qq:user:2") if m.role == "assistant"]
    repeating, other = replies
    # A summary that folded the repeating reply in.
    assert await service.memory.add_summary("qq:user:2", f"小明的号码是{PHONE}", repeating.id)
    return repeating.id, other.id


async def test_a_recalled_room_line_leaves_the_reply_that_repeated_it(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        repeating, other = await _y_repeats_x(service)
        recall = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-1")
        assert await service.forget_message(recall) == 2  # the line and her reply
        history = await service.memory.history("qq:user:2")
        assert not any(PHONE in m.content for m in history)
        # Y's own messages stay, and her reply that did not repeat it.
        assert [(m.role, m.id == other) for m in history] == [
            ("user", False),
            ("user", False),
            ("assistant", True),
        ]
        assert await service.memory.summary("qq:user:2") is None
        # Archived, as a recall archives: Y's next prompt, anywhere, does not hold it.
        kept = {m.id: m.archived for m in await service.memory.all_messages("qq:user:2")}
        assert kept[repeating] is True
        later = await service.chat(said("还记得吗", "2", channel="g2", addressed=True))
        assert PHONE not in later.text


async def test_a_purge_deletes_her_reply_repeating_their_words_not_the_askers_message(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        _, other = await _y_repeats_x(service)
        await service.memory.reset("qq:user:2")  # archived ones go too
        await service.purge(ScopeRef(platform="qq", user_id="1"))
        rows = await service.memory.all_messages("qq:user:2")
        assert [m.id for m in rows if m.role == "assistant"] == [other]
        assert [m.content for m in rows if m.role == "user"] == [
            "亚托莉 刚才谁说话了？",
            "你好呀，今天过得怎么样",
        ]
        assert await service.memory.all_summaries("qq:user:2") == []


async def test_a_quoted_message_recalled_or_purged_leaves_the_quoting_reply(
    echo_settings: Settings,
) -> None:
    """The quoted words are stored nowhere in the quoting exchange but in her reply."""
    words = "我的身份证号是110101199001011234"
    quote = said("（引用了小明的消息）这是什么意思", "3", addressed=True, request_id="qq-5")
    quote = quote.model_copy(update={"with_quote": f"（引用了小明的消息：{words}）这是什么意思"})
    async with await ChatService.open(echo_settings) as service:
        await service.chat(said(f"亚托莉 {words}", "1", addressed=True, request_id="qq-4"))
        assert "110101199001011234" in (await service.chat(quote)).text
        recall = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-4")
        await service.forget_message(recall)
        assert [m.role for m in await service.memory.history("qq:user:3")] == ["user"]
    echo_settings.memory.scope = "channel"  # one conversation: only X's purge reaches it
    async with await ChatService.open(echo_settings) as service:
        await service.chat(said(f"亚托莉 {words}", "1", "g3", addressed=True, request_id="q6"))
        quoting = quote.model_copy(update={"channel_id": "g3", "request_id": "q7"})
        await service.chat(quoting)
        await service.chat(said("亚托莉 早上好", "2", "g3", addressed=True, request_id="q8"))
        await service.purge(ScopeRef(platform="qq", channel_id="g3", user_id="1"))
        rows = await service.memory.all_messages("qq:chan:g3")
        assert not any("110101199001011234" in m.content for m in rows)
        assert [(m.user_id, m.role) for m in rows] == [
            ("3", "user"),
            ("2", "user"),
            ("", "assistant"),
        ]


def test_what_counts_as_a_repeat() -> None:
    repeats = Repeats(["我的手机号是13800138000", "see you at the usual place tonight", "ok"])
    assert repeats.found_in("号码：13800138000")  # the number alone
    assert repeats.found_in("SEE YOU  at the usual\nplace")  # four words, case and spaces
    assert not repeats.found_in("I will see you at home")  # two common words
    assert not repeats.found_in("ok, 我的手机")  # a short word; a run of 4
    assert Repeats(["abc123"]).found_in("密码是abc123吗")  # a short text whole


async def test_a_recall_looks_for_repeats_in_the_day_after_its_message_alone(
    echo_settings: Settings,
) -> None:
    """The delete of an old message (a Discord moderator's) reads a day of her replies, not
    every one since, under the write lock: a reply two days later is not looked at."""
    async with await ChatService.open(echo_settings) as service:
        line = said(f"我的手机号是{PHONE}，别告诉别人", "1", request_id="qq-1")
        assert (await service.chat(line)).status == "heard"
        with mock.patch("time.time", return_value=time.time() + 2 * 24 * 3600):
            quote = said(f"有人说“我的手机号是{PHONE}”", "2", addressed=True, request_id="qq-2")
            assert PHONE in (await service.chat(quote)).text
        recall = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-1")
        assert await service.forget_message(recall) == 1  # the line alone
        history = await service.memory.history("qq:user:2")
        assert any(PHONE in m.content for m in history if m.role == "assistant")


async def test_the_delete_of_a_message_never_stored_holds_back_no_conversation(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most deletes a Discord bot sees are of messages it never stored (chatter in
    channels she does not read): they find no words to look for in her replies, and take
    no write over the whole platform, which every read of its conversations waits for."""
    async with await ChatService.open(echo_settings) as service:
        await _y_repeats_x(service)
        touched: list[Touch] = []
        touching = service.memory._tx.inflight.touching

        def recorded(touch: Touch) -> Any:
            touched.append(touch)
            return touching(touch)

        monkeypatch.setattr(service.memory._tx.inflight, "touching", recorded)
        unknown = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-404")
        assert await service.forget_message(unknown) == 0
        assert not [t for t in touched if t.scope_prefixes == ("qq:",)]
        known = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-1")
        assert await service.forget_message(known) == 2  # the line and her reply, as before
        assert [t for t in touched if t.scope_prefixes == ("qq:",)]

"""QA 39: conversation memory in a busy group over days: a channel's shared conversation,
its rolling summary and its room lines. Each test runs on a real SQLite file."""

from __future__ import annotations

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService

SECRET = "我的电话是13800138000"


def said(text: str, user: str, name: str, channel: str = "g1", request_id: str = "") -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=name,
        text=text,
        channel_id=channel,
        request_id=request_id,
    )


async def test_purging_a_member_of_a_shared_conversation_takes_her_replies_without_ids(
    echo_settings: Settings,
) -> None:
    """Under `scope = "channel"`, purging one member deleted their messages but kept her
    replies to those sent without a platform message id (an HTTP client's): the echo of
    their words stayed in the conversation, and so in every later prompt and summary."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await service.chat(said("大家好", "2", "小明"))
        await service.chat(said(SECRET, "1", "小红"))
        await service.chat(said("今天下雨了", "2", "小明", request_id="m3"))
        await service.chat(said("我也在", "1", "小红", request_id="m4"))
        scope = service.scope_for("qq", "1", "g1")
        assert len(await service.memory.all_messages(scope)) == 8

        messages, _ = await service.purge_counts(
            ScopeRef(platform="qq", user_id="1", channel_id="g1")
        )

        kept = await service.memory.all_messages(scope)
        assert messages == 4  # their two messages and her two replies
        assert not any(SECRET in m.content or "我也在" in m.content for m in kept)
        # The other member's exchanges stay whole, in order.
        assert [(m.role, m.user_id) for m in kept] == [("user", "2"), ("assistant", "")] * 2
        assert "今天下雨了" in kept[3].content

"""One platform message is answered once, and one deleted while answered gets no reply.

A OneBot implementation delivers its events again after a reconnect, and a Discord
resume can replay a MESSAGE_CREATE: each copy was answered and stored, and a copy's cut
send then archived the reply the user had read. A message deleted or recalled while she
was generating its answer was archived, yet its reply still said "ok", and Discord
posted it standalone. Real ChatService, real SQLite, the echo engine (held by a gate
where a copy or a delete must land mid-answer). Both bots post nothing for "recalled".
"""

from __future__ import annotations

import asyncio

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest, MessageRef, ReplyCut, ScopeRef
from model.service import ChatService
from tests.held_echo import HeldEcho


def said(text: str, request_id: str = "m1", user: str = "u1") -> ChatRequest:
    return ChatRequest(
        platform="test", user_id=user, text=text, display_name=user, request_id=request_id
    )


async def stored(service: ChatService, scope: str) -> list[tuple[str, str, bool]]:
    return [(m.role, m.content, m.archived) for m in await service.memory.all_messages(scope)]


async def test_a_message_delivered_again_after_its_reply_is_not_answered_again(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        first = await service.chat(said("hello dup test"))
        assert first.status == "ok"
        again = await service.chat(said("hello dup test"))
        assert (again.status, again.text) == ("recalled", "")  # the bots post nothing
        reply = EchoEngine.prefix + "hello dup test"
        assert await stored(service, first.scope) == [
            ("user", "hello dup test", False),
            ("assistant", reply, False),
        ]
        # Nor once her conversation was reset: the copy is no new message.
        await service.reset(ScopeRef(platform="test", user_id="u1"))
        assert (await service.chat(said("hello dup test"))).status == "recalled"
        # A message with no platform id (the console, a /v1 client) is answered each time.
        for _ in range(2):
            assert (await service.chat(said("no id", request_id=""))).status == "ok"


async def test_a_copy_arriving_while_she_answers_the_message_gets_no_reply(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        answering = asyncio.create_task(service.chat(said("same event twice")))
        await asyncio.wait_for(engine.started.wait(), 5)
        copy = await asyncio.wait_for(service.chat(said("same event twice")), 5)
        assert (copy.status, copy.text) == ("recalled", "")  # told at once, not queued
        engine.gate.set()
        first = await asyncio.wait_for(answering, 5)
        assert first.status == "ok"
        roles = [role for role, _, _ in await stored(service, first.scope)]
        assert roles == ["user", "assistant"]


async def test_a_copy_of_a_message_told_busy_is_answered(echo_settings: Settings) -> None:
    """A busy reply stored nothing: the same message sent again must be answered."""
    engine = HeldEcho()
    timeout = echo_settings.worker.request_timeout_seconds
    echo_settings.worker.request_timeout_seconds = 0.3
    async with await ChatService.open(echo_settings, engine=engine) as service:
        busy = await service.chat(said("are you there"))
        assert busy.status == "busy"
        engine.gate.set()
        echo_settings.worker.request_timeout_seconds = timeout
        again = await service.chat(said("are you there"))
        assert (again.status, again.text) == ("ok", EchoEngine.prefix + "are you there")


@pytest.mark.parametrize(
    ("sent", "keep_message"), [("", False), ("", True), ("A long story", False)]
)
async def test_a_cut_reply_touches_only_the_newest_exchange_of_its_message(
    echo_settings: Settings, sent: str, keep_message: bool
) -> None:
    """A database from before: one message stored twice (the first reply delivered in
    full, the copy's send cut). The cut archived or cut the reply the user had read."""
    async with await ChatService.open(echo_settings) as service:
        scope = service.scope_for("test", "u1")
        for reply in ("A long story about the sea", "A long story about the sky"):
            await service.memory.append_many(
                scope,
                [("user", "u1", "u1", "tell me", ""), ("assistant", "", "ATRI", reply, "")],
                "m1",
            )
        cut = ReplyCut(
            platform="test", user_id="u1", request_id="m1", sent=sent, keep_message=keep_message
        )
        await service.cut_reply(cut)
        kept = await stored(service, scope)
        assert kept[:2] == [  # the reply that was read
            ("user", "tell me", False),
            ("assistant", "A long story about the sea", False),
        ]
        if sent:
            assert kept[2:] == [("user", "tell me", False), ("assistant", sent, False)]
        else:
            assert kept[2:] == [
                ("user", "tell me", not keep_message),
                ("assistant", "A long story about the sky", True),
            ]


async def test_a_message_deleted_while_she_answers_it_gets_no_reply(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        asking = asyncio.create_task(service.chat(said("my phone is 555-0100")))
        await asyncio.wait_for(engine.started.wait(), 5)
        ref = MessageRef(platform="test", user_id="u1", request_id="m1")
        assert await service.forget_message(ref) == 0  # nothing stored yet
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        assert (reply.status, reply.text) == ("recalled", "")  # no adapter posts it
        assert await service.memory.history(reply.scope) == []  # archived, as before
        assert (await service.chat(said("hello", request_id="m2"))).status == "ok"


async def test_an_id_reused_for_a_new_message_is_answered(echo_settings: Settings) -> None:
    """A OneBot implementation whose message counter started again (its restart, its
    database wiped) reuses ids within the day: a new message by them was silently not
    answered. The same person's same words under the id are a copy; anything else is new."""
    echo_settings.memory.scope = "channel"  # one conversation the channel's members share
    async with await ChatService.open(echo_settings) as service:

        def in_channel(text: str, user: str) -> ChatRequest:
            return said(text, "qq-5000", user).model_copy(update={"channel_id": "g1"})

        assert (await service.chat(in_channel("before the restart", "u1"))).status == "ok"
        assert (await service.chat(in_channel("after the restart", "u1"))).status == "ok"
        assert (await service.chat(in_channel("before the restart", "u2"))).status == "ok"
        copy = await service.chat(in_channel("before the restart", "u1"))
        assert (copy.status, copy.text) == ("recalled", "")

"""An edit that reaches her before the message it changes is stored: her memory still
ends with the new text (through the real discord.py client and the fake Discord)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.protocol import ChatRequest, Reply
from model.room import Edit, PendingEdits
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION, edited, say
from tests.bot.discord.test_room import live_lines, room_lines
from tests.held_echo import HeldEcho

SCOPE = f"discord:user:{MEMBER_ID}"
ROOM = f"discord:chan:{GUILD_ID}/{CHANNEL_ID}"


class EditsFirst:
    """The real service, where each message's edit reaches the worker before the message
    itself is heard (as two requests over the relay can): a heard message waits until
    an edit has been handled."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.heard_on_the_way = asyncio.Event()
        self.edit_handled = asyncio.Event()

    async def chat(self, request: ChatRequest) -> Reply:
        if not request.addressed and not request.edited:
            self.heard_on_the_way.set()
            await asyncio.wait_for(self.edit_handled.wait(), 5)
        reply = await self.service.chat(request)
        if request.edited:
            self.edit_handled.set()
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


@pytest.mark.parametrize("in_guild", [True, False], ids=["server", "DM"])
async def test_a_message_edited_while_she_answers_it_is_remembered_as_its_new_text(
    fake_discord: FakeDiscord, discord_settings: Settings, in_guild: bool
) -> None:
    """The edit reached the worker while she was answering: nothing was stored yet to
    change, so the exchange stored after it kept the old text (the phone number) for
    every later prompt."""
    engine = HeldEcho()
    channel = CHANNEL_ID if in_guild else DM_CHANNEL_ID
    async with await ChatService.open(discord_settings, engine=engine) as service:
        worker = EditsFirst(service)
        async with running_client(fake_discord, worker, discord_settings):
            asked = await say(fake_discord, MEMBER_ID, "我的电话是 13800000000", in_guild=in_guild)
            await asyncio.wait_for(engine.started.wait(), 5)
            await fake_discord.dispatch(
                "MESSAGE_UPDATE", edited(fake_discord, asked, f"{MENTION} 电话私信你")
            )
            await asyncio.wait_for(worker.edit_handled.wait(), 5)
            assert await service.memory.all_messages(SCOPE) == []  # still answering
            engine.gate.set()
            (reply,) = await fake_discord.wait_for_calls(is_message_to(channel))
            assert reply.body["content"] == ECHO + "我的电话是 13800000000"  # what she was asked
            stored = [m.content for m in await service.memory.all_messages(SCOPE)]
            assert stored == ["电话私信你", ECHO + "我的电话是 13800000000"]


async def test_a_line_edited_before_she_heard_it_is_kept_as_its_new_text(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    """The edit found no line to change, and the line heard after it kept the old text."""
    discord_settings.discord.room_context = True
    worker = EditsFirst(echo_service)
    async with running_client(fake_discord, worker, discord_settings):
        sent = await fake_discord.send_message(MEMBER_ID, "我的电话是 13800000000")
        # Sent to the worker as it was: discord.py's edit of its cached copy comes later.
        await asyncio.wait_for(worker.heard_on_the_way.wait(), 5)
        now = "2025-01-01T00:01:00+00:00"
        await fake_discord.dispatch(
            "MESSAGE_UPDATE", sent | {"content": "电话发你私信了", "edited_timestamp": now}
        )
        assert await live_lines(echo_service, ["电话发你私信了"]) == ["电话发你私信了"]


async def test_an_edit_older_than_the_message_she_answers_does_not_change_it(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    """Heard, edited, then edited again to mention her: she answers the newest text, and
    what she remembers of it is that text, not the first edit's."""
    discord_settings.discord.room_context = True
    sent = await fake_discord.send_message(MEMBER_ID, "今天下雨了")
    await room_lines(echo_service, 1)
    now = "2025-01-01T00:01:00+00:00"
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", sent | {"content": "今天下大雨了", "edited_timestamp": now}
    )
    assert await live_lines(echo_service, ["今天下大雨了"]) == ["今天下大雨了"]
    await fake_discord.dispatch("MESSAGE_UPDATE", edited(fake_discord, sent, f"{MENTION} 带伞了吗"))
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "带伞了吗"
    stored = [m.content for m in await echo_service.memory.all_messages(SCOPE)]
    assert stored == ["带伞了吗", ECHO + "带伞了吗"]


async def test_an_edit_is_taken_only_by_the_same_person_s_same_message(
    discord_settings: Settings,
) -> None:
    """In a conversation the channel shares, another member's edit of a message id (or an
    edit of another message) does not change what is stored later."""
    discord_settings.memory.scope = "channel"
    request = ChatRequest(
        platform="discord", channel_id="5", guild_id="6", user_id="7", text="原话", request_id="100"
    )
    edit = request.model_copy(update={"text": "改过的话", "addressed": False, "edited": True})
    async with await ChatService.open(discord_settings) as service:
        await service.chat(edit.model_copy(update={"user_id": "8"}))
        await service.chat(edit.model_copy(update={"request_id": "101"}))
        assert (await service.chat(request)).status == "ok"
        stored = await service.memory.all_messages("discord:chan:6/5")
        assert (stored[0].role, stored[0].content) == ("user", "原话")


def test_an_edit_is_kept_for_a_while_then_forgotten() -> None:
    """Bounded by time, not only by count: an edit of a message never answered goes."""
    now = [0.0]
    edits = PendingEdits(seconds=150.0, clock=lambda: now[0])
    edits.note("discord:user:7", "100", "7", Edit("新的话", 1.0))
    now[0] = 149.0
    assert edits.newest("discord:user:7", "100", "7") == Edit("新的话", 1.0)
    now[0] = 151.0
    assert edits.newest("discord:user:7", "100", "7") is None

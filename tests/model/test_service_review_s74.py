"""Session 74 (code review). Under `[memory] scope = "channel"` a member's reset, an
admin's reset of them and their leaving a QQ group kept their room lines there: the reset
answered "the conversation here is shared" before it reached them, so the group's later
prompts went on quoting someone who had left (a phone number said in passing). Room lines
are keyed by user and room whatever the scope; only the shared conversation stays.

A database failure while reading channel modes reached an in-process bot as a raw
sqlite3.Error and an HTTP bot as a 503 without a code (`WorkerUnreachable`); it is
`MemoryUnavailable` both ways now, as a failure setting a mode is."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.lines import EN, JA, ZH, lines
from bot.relay import HttpWorker
from model.protocol import (
    SHARED_SCOPE,
    ChannelSetting,
    ChatRequest,
    MemoryUnavailable,
    ScopeRef,
)
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
GROUP = "900"
ROOM = f"qq:chan:{GROUP}"
PHONE = "my phone is 555-1234"


def said(user: str, text: str, addressed: bool = True, request_id: str = "") -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        channel_id=GROUP,
        display_name=f"member {user}",
        text=text,
        addressed=addressed,
        request_id=request_id,
    )


def left_group(user: str) -> ScopeRef:
    """What the QQ plugin sends when `user` leaves the group (`_on_member_left`)."""
    return ScopeRef(platform="qq", user_id=user, channel_id=GROUP, here_only=True)


async def room_lines(service: ChatService) -> list[str]:
    return [line.content for line in await service.memory.room.recent(ROOM, 50, 3600)]


async def shared_conversation(service: ChatService) -> list[str]:
    return [m.content for m in await service.memory.history(ROOM)]


@contextlib.asynccontextmanager
async def over_http(service: ChatService) -> AsyncIterator[HttpWorker]:
    """A bot's relay to `service`, served by the real worker app."""
    listening = bind_socket("127.0.0.1", 0)
    async with serving(create_app(service, SECRETS), listening) as url:
        client = service.settings.worker.model_copy(update={"url": url})
        async with HttpWorker(client, SECRETS) as remote:
            yield remote


@pytest.fixture
def shared_settings(echo_settings: Settings) -> Settings:
    echo_settings.memory.scope = "channel"
    return echo_settings


async def overheard(service: ChatService) -> list[str]:
    """Member 42 talks to her, then says a phone number in passing; 43 is overheard too."""
    await service.chat(said("42", "hello atri", request_id="m1"))
    await service.chat(said("42", PHONE, addressed=False, request_id="m2"))
    await service.chat(said("43", "nice weather", addressed=False, request_id="m3"))
    assert await room_lines(service) == [PHONE, "nice weather"]
    return await shared_conversation(service)


async def test_a_member_who_left_the_group_is_quoted_no_more(shared_settings: Settings) -> None:
    async with await ChatService.open(shared_settings) as service:
        conversation = await overheard(service)
        assert await service.reset(left_group("42")) == SHARED_SCOPE
        assert await room_lines(service) == ["nice weather"]  # 43's line stays
        assert await shared_conversation(service) == conversation  # everyone's: kept
        # The echo engine answers with the new message, which the room lines lead.
        reply = await service.chat(said("43", "atri, what did they say?", request_id="m4"))
        assert "nice weather" in reply.text and "555-1234" not in reply.text


async def test_an_admins_reset_of_a_member_takes_their_lines_here(
    shared_settings: Settings,
) -> None:
    admin = Actor("qq", "7", is_admin=True, channel_id=GROUP)
    async with await ChatService.open(shared_settings) as service:
        conversation = await overheard(service)
        result = await commands.reset_user(service, admin, "42")
        assert result.text == lines().shared_user_reset and not result.ok
        assert await room_lines(service) == ["nice weather"]
        assert await shared_conversation(service) == conversation


def test_the_admin_is_told_what_was_forgotten() -> None:
    """As where a member's conversation is theirs in every place (`personal_user_reset`)."""
    forgotten = {
        EN: "Only what {name} overheard them say here was forgotten.",
        ZH: "{name}只忘掉了在这里旁听到的这位成员的发言。",
        JA: "{name}がここで耳にした、そのメンバーの発言だけを忘れました。",
    }
    for said_in, sentence in forgotten.items():
        assert sentence in said_in.personal_user_reset
        assert said_in.shared_user_reset.endswith(sentence)


async def test_a_members_own_reset_takes_their_lines_here(shared_settings: Settings) -> None:
    member = Actor("qq", "42", is_admin=False, channel_id=GROUP)
    async with await ChatService.open(shared_settings) as service:
        conversation = await overheard(service)
        result = await commands.reset_self(service, member)
        assert result.text == lines().shared_reset_refused  # the conversation is everyone's
        assert await room_lines(service) == ["nice weather"]
        assert await shared_conversation(service) == conversation


async def test_a_members_purge_takes_their_lines_and_exchanges(
    shared_settings: Settings,
) -> None:
    """Already so before (`Memory.purge_member`); kept so through `_owned_by_channel`."""
    async with await ChatService.open(shared_settings) as service:
        await overheard(service)
        await service.chat(said("43", "hi from 43", request_id="m4"))
        await service.purge(ScopeRef(platform="qq", user_id="42", channel_id=GROUP))
        assert await room_lines(service) == ["nice weather"]
        kept = await shared_conversation(service)
        assert "hello atri" not in kept and "hi from 43" in kept


async def test_a_member_leaving_over_http_under_each_scope(echo_settings: Settings) -> None:
    """The request the QQ plugin sends over HTTP: the member's lines go under every scope."""
    for kind in ("channel", "user_in_channel", "user"):
        echo_settings.memory.scope = kind
        echo_settings.memory.path = str(echo_settings.root / f"memory-{kind}.sqlite3")
        async with (
            await ChatService.open(echo_settings) as service,
            over_http(service) as remote,
        ):
            await remote.chat(said("42", PHONE, addressed=False, request_id="m1"))
            await remote.chat(said("43", "nice weather", addressed=False, request_id="m2"))
            await remote.reset(left_group("42"))
            assert await room_lines(service) == ["nice weather"], kind


def drop_channel_modes(settings: Settings) -> None:
    """The table gone under the worker (a file damaged, replaced): its read fails."""
    with sqlite3.connect(settings.path(settings.memory.path)) as db:
        db.execute("DROP TABLE channel_modes")


async def test_a_failed_read_of_channel_modes_is_memory_unavailable(
    echo_settings: Settings,
) -> None:
    async with (
        await ChatService.open(echo_settings) as service,
        over_http(service) as remote,
    ):
        await remote.set_channel_mode(ChannelSetting(platform="qq", channel_id="1", mode="off"))
        assert await remote.channel_modes("qq") == {"1": "off"}
        drop_channel_modes(echo_settings)
        with pytest.raises(MemoryUnavailable):  # in process: not a raw sqlite3.Error
            await service.channel_modes("qq")
        with pytest.raises(MemoryUnavailable):  # over HTTP: not WorkerUnreachable
            await remote.channel_modes("qq")

"""Session 68: a Discord thread or channel deleted (Discord sends no delete of its
messages) left what she kept of it: her memory of a member still held their exchange
there (an address they gave), and the thread's room lines went on into prompts. Now
`forget_channel` archives it as a deleted message's is, on the worker and over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.engines.echo import EchoEngine
from model.memory import Memory
from model.protocol import ChannelRef, ChannelSetting, ChatRequest, MemoryUnavailable, Worker
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.held_echo import HeldEcho
from tests.model.server.conftest import ADMIN_TOKEN
from tests.model.server.test_app import client_settings
from tests.model.test_dberrors_qa38 import damage, filled

GUILD, CHANNEL, THREAD, ELSEWHERE = "g1", "c1", "t1", "c2"
MEMBER, ADMIN = "u1", "u2"
THREAD_ROOM = f"discord:chan:{GUILD}/{THREAD}"
SECRET = "my address is 1 Secret Road"


def message(text: str, user: str, channel: str, request_id: str, addressed: bool) -> ChatRequest:
    return ChatRequest(
        platform="discord",
        user_id=user,
        display_name=user,
        text=text,
        channel_id=channel,
        guild_id=GUILD,
        parent_channel_id=CHANNEL if channel == THREAD else "",
        request_id=request_id,
        addressed=addressed,
    )


async def tell_the_thread(service: ChatService) -> None:
    """The tester's thread: a member's question answered, the admin's plain line heard;
    and the member's exchange in another channel, which stays."""
    assert (await service.chat(message(SECRET, MEMBER, THREAD, "m1", True))).status == "ok"
    assert (await service.chat(message("下雨了", ADMIN, THREAD, "m2", False))).status == "heard"
    assert (await service.chat(message("你好", MEMBER, ELSEWHERE, "m3", True))).status == "ok"


def deleted_thread(*request_ids: str) -> ChannelRef:
    return ChannelRef(
        platform="discord", channel_id=THREAD, guild_id=GUILD, request_ids=list(request_ids)
    )


async def test_a_deleted_thread_takes_her_exchange_and_its_room_lines(
    echo_settings: Settings,
) -> None:
    """Memory per person (the default): the exchange records no channel, and is found
    by the ids of the messages the bot knows were said there."""
    scope = f"discord:user:{MEMBER}"
    async with await ChatService.open(echo_settings) as service:
        assert isinstance(service, Worker)
        await tell_the_thread(service)
        await service.set_channel_mode(
            ChannelSetting(platform="discord", channel_id=THREAD, mode="all")
        )
        # A summary that folded the exchange in goes too.
        first = (await service.memory.all_messages(scope))[1]
        assert await service.memory.add_summary(scope, SECRET, first.id)
        # Her own reply's id and unknown ids name no exchange.
        assert await service.forget_channel(deleted_thread("m1", "m2", "her-reply", "m9")) == 3
        assert [m.content for m in await service.memory.history(scope)] == [
            "你好",
            EchoEngine.prefix + "你好",
        ]
        assert await service.memory.summary(scope) is None
        assert await service.channel_modes("discord") == {}
        # Archived, as a deleted message is: kept in the file until a purge.
    async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as memory:
        archived = [m.content for m in await memory.all_messages(scope) if m.archived]
        assert archived == [SECRET, EchoEngine.prefix + SECRET]
        assert [line.content for line in await memory.room.all_lines(THREAD_ROOM)] == ["下雨了"]
        assert await memory.room.recent(THREAD_ROOM, 50, 3600) == []  # archived


@pytest.mark.parametrize("kind", ["user_in_channel", "channel"])
async def test_conversations_kept_for_a_deleted_channel_go_with_its_threads(
    echo_settings: Settings, kind: str
) -> None:
    """Memory kept per channel: the thread's conversations are found by its key, also
    when the bot knows none of its messages (after a restart); a channel deleted takes
    the threads the bot names."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings) as service:
        await tell_the_thread(service)
        in_thread = service.scope_for("discord", MEMBER, THREAD, GUILD)
        elsewhere = service.scope_for("discord", MEMBER, ELSEWHERE, GUILD)
        gone = ChannelRef(
            platform="discord", channel_id=CHANNEL, guild_id=GUILD, thread_ids=[THREAD]
        )
        assert await service.forget_channel(gone) == 3
        assert await service.memory.history(in_thread) == []
        assert len(await service.memory.history(elsewhere)) == 2
        assert await service.memory.room.recent(THREAD_ROOM, 50, 3600) == []


async def test_a_damaged_file_refuses_it_with_the_sentence(echo_settings: Settings) -> None:
    """As a deleted message's forgetting: one sentence (the bot logs nothing more)."""
    damage(await filled(echo_settings))
    async with await ChatService.open(echo_settings) as service:
        with pytest.raises(MemoryUnavailable, match="the file is damaged"):
            await service.forget_channel(
                ChannelRef(platform="p", channel_id="c1", request_ids=["m1"])
            )


@pytest.mark.parametrize("kind", ["user", "channel"])
async def test_a_reply_being_written_when_its_thread_is_deleted_is_not_stored(
    echo_settings: Settings, kind: str
) -> None:
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        asked = asyncio.create_task(service.chat(message(SECRET, MEMBER, THREAD, "m1", True)))
        await asyncio.wait_for(engine.started.wait(), 5)
        await service.forget_channel(deleted_thread("m1"))
        engine.gate.set()
        await asked
        scope = service.scope_for("discord", MEMBER, THREAD, GUILD)
        assert await service.memory.history(scope) == []
        # One she has not begun answering is not answered.
        later = await service.chat(message(SECRET, MEMBER, THREAD, "m1", True))
        assert later.status == "recalled"


async def test_a_deleted_thread_is_forgotten_over_http(echo_settings: Settings) -> None:
    """POST /forget-channel, with the admin token as /forget-message, and HttpWorker."""
    secrets = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await client.post("/forget-channel", json=deleted_thread().model_dump())
            assert refused.status_code == 401
        async with HttpWorker(client_settings(echo_settings, url), secrets) as remote:
            assert isinstance(remote, Worker)
            await tell_the_thread(service)
            assert await remote.forget_channel(deleted_thread("m1", "m2")) == 3
            assert await remote.forget_channel(deleted_thread("m1", "m2")) == 0  # archived
        assert len(await service.memory.history(f"discord:user:{MEMBER}")) == 2

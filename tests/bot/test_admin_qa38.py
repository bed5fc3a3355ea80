"""An admin of one server or group resets a member there only (QA 38): under `[memory]
scope = "user"` a member's conversation is one for every server, group and DM, so it is
the bot owner's to reset (or the member's own), and a server admin is told so."""

from __future__ import annotations

import logging

import pytest

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.lines import lines
from bot.relay import HttpWorker
from model.protocol import PERSONAL_SCOPE, ChatRequest, ScopeRef, Worker
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN


def say(user: str, text: str, channel: str = "c1", guild: str = "g1") -> ChatRequest:
    return ChatRequest(platform="p", user_id=user, text=text, channel_id=channel, guild_id=guild)


def heard(user: str, text: str, channel: str = "c1", guild: str = "g1") -> ChatRequest:
    """A line said in the room, not to her (room context)."""
    return say(user, text, channel, guild).model_copy(update={"addressed": False})


def server_admin(channel: str = "c1", guild: str = "g1") -> Actor:
    """Manage Server, an admin role, a QQ group's owner or admin: an admin of one place."""
    return Actor("p", "mod", is_admin=True, channel_id=channel, guild_id=guild)


def owner(channel: str = "c1", guild: str = "g1") -> Actor:
    """`[discord] admin_ids`, `[qq] superusers`."""
    return Actor("p", "owner", is_admin=True, channel_id=channel, guild_id=guild, is_owner=True)


async def live(service: ChatService, user: str, channel: str = "", guild: str = "") -> list[str]:
    scope = service.scope_for("p", user, channel, guild)
    return [m.content for m in await service.memory.history(scope)]


async def room(service: ChatService, channel: str, guild: str = "g1") -> list[str]:
    lines_ = await service.memory.room.recent(f"p:chan:{guild}/{channel}", 50, 3600)
    return [line.content for line in lines_]


async def chatted(worker: Worker) -> None:
    """The member `m` talks to her in a server channel and in a DM, and is overheard in
    two channels of that server."""
    await worker.chat(say("m", "in the server"))
    await worker.chat(say("m", "in my DM", channel="", guild=""))
    await worker.chat(heard("m", "overheard in c1"))
    await worker.chat(heard("m", "overheard in c2", channel="c2"))


async def test_a_server_admin_cannot_reset_a_conversation_that_spans_every_place(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert echo_settings.memory.scope == "user"  # the default
    async with await ChatService.open(echo_settings) as service:
        await chatted(service)
        everything = await live(service, "m")
        assert len(everything) == 4  # the server chat and the DM: one conversation
        with caplog.at_level(logging.INFO, logger="bot.commands"):
            result = await commands.reset_user(service, server_admin(), "m")
        assert result.text == lines().personal_user_reset and not result.ok
        assert "/atri reset" in result.text and "私聊" in result.text  # says why, and how
        # Their DM and the other servers keep it all; only what she overheard here goes.
        assert await live(service, "m") == everything
        assert await room(service, "c1") == []
        assert await room(service, "c2") == ["overheard in c2"]
        assert "reset only the room lines of user m in channel c1" in caplog.text
        # The bot's owner resets it, as before.
        done = await commands.reset_user(service, owner(), "m")
        assert done.ok and done.text == lines().user_reset_done.format(count=4)
        assert await live(service, "m") == []


async def test_a_server_admin_resets_a_member_in_this_channel_only(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "user_in_channel"
    async with await ChatService.open(echo_settings) as service:
        await chatted(service)
        await service.chat(say("m", "in another server", channel="c9", guild="g2"))
        result = await commands.reset_user(service, server_admin(), "m")
        # Two messages of the exchange in c1, and the line overheard there.
        assert result.ok and result.text == lines().user_reset_done.format(count=3)
        assert await live(service, "m", "c1", "g1") == []
        assert await room(service, "c1") == []
        assert len(await live(service, "m")) == 2  # the DM
        assert len(await live(service, "m", "c9", "g2")) == 2  # another server
        assert await room(service, "c2") == ["overheard in c2"]


async def test_the_limit_holds_over_http(echo_settings: Settings) -> None:
    """`here_only` crosses the wire: a worker in its own process keeps the conversation."""
    secrets = Secrets.model_validate({"admin_token": ADMIN_TOKEN})
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        settings = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(settings, secrets) as remote:
            await chatted(remote)
            result = await commands.reset_user(remote, server_admin(), "m")
            assert result.text == lines().personal_user_reset
            assert len(await live(service, "m")) == 4
            assert await room(service, "c1") == []
            here_only = ScopeRef(platform="p", user_id="m", here_only=True)  # no channel: a DM
            assert await remote.reset(here_only) == PERSONAL_SCOPE
            assert len(await live(service, "m")) == 4
            assert (await commands.reset_user(remote, owner(), "m")).ok
            assert await live(service, "m") == []

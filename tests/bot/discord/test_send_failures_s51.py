"""Session 51: a post that fails without Discord's answer (the connection dropped mid-post)
ends her reply as a refusal does: one warning, the rest not tried, memory keeps only the
parts Discord confirmed. It escaped `answer` before ("Ignoring exception in on_message")
and memory kept the whole reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import web

import bot.discord.adapter as adapter
from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_a_post,
    is_message_to,
)

MENTION = f"<@{BOT_ID}>"
ECHO = "亚托莉听到了："


class DroppingDiscord(FakeDiscord):
    """Drops the HTTP connection of a post once `posts_before_drop` posts went through."""

    def __init__(self) -> None:
        super().__init__()
        self.posts_before_drop: int | None = None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        response = await super()._rest(request)
        if self.posts_before_drop is None or not is_a_post(self.calls[-1]):
            return response
        if self.posts_before_drop > 0:
            self.posts_before_drop -= 1
            return response
        assert request.transport is not None
        request.transport.close()  # no answer: the client reads a dropped connection
        await asyncio.sleep(0.05)
        return response


@pytest.fixture
async def dropping_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DroppingDiscord]:
    fake = DroppingDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def client(
    dropping_discord: DroppingDiscord, echo_service: ChatService, discord_settings: Settings
) -> AsyncIterator[AtriClient]:
    async with running_client(dropping_discord, echo_service, discord_settings) as started:
        yield started


async def test_a_post_cut_off_by_a_dropped_connection_ends_the_reply_as_sent(
    dropping_discord: DroppingDiscord,
    client: AtriClient,
    echo_service: ChatService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = dropping_discord
    # No try again (session 71's retries): the connection stays down past them.
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", ())
    fake.posts_before_drop = 1  # the first part confirmed, the second cut off
    text = "亚托莉是高性能的机器人。" * 333  # three parts
    caplog.set_level(logging.WARNING)
    await fake.send_message(MEMBER_ID, f"{MENTION} {text}", mentions=(BOT_ID,))
    await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    first = fake.calls_matching(is_message_to(CHANNEL_ID))[0].body["content"]
    scope = f"discord:user:{MEMBER_ID}"
    for _ in range(60):
        history = await echo_service.memory.history(scope)
        if history and history[-1].content == first:
            break
        await asyncio.sleep(0.05)
    assert [(m.role, m.content) for m in history] == [("user", text), ("assistant", first)]
    # The client still answers; the third part was never tried.
    fake.posts_before_drop = None
    await fake.send_message(
        MEMBER_ID, f"{MENTION} 还在吗", mentions=(BOT_ID,), channel_id=LISTEN_CHANNEL_ID
    )
    await fake.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID))
    assert len(fake.calls_matching(is_message_to(CHANNEL_ID))) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"posting to Discord channel {CHANNEL_ID} failed: Server disconnected; not confirmed"
    ]
    assert "Ignoring exception" not in caplog.text

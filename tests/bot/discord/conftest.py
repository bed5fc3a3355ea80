"""The real discord.py client, started against the loopback fake of Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.engines.echo import EchoEngine
from model.protocol import Worker
from model.service import ChatService
from tests.bot.discord.fake_discord import FakeDiscord

TOKEN = "fake-token"

StartClient = Callable[..., Any]


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with fake_discord_gateway(monkeypatch) as fake:
        yield fake


@asynccontextmanager
async def fake_discord_gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """The fake Discord, where discord.py's REST calls and gateway connection go."""
    fake = FakeDiscord()
    await fake.start()
    # REST goes to Route.BASE; a plain (unsharded) Client connects to DEFAULT_GATEWAY.
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def discord_settings(echo_settings: Settings) -> Settings:
    return echo_settings


@asynccontextmanager
async def running_client(
    fake: FakeDiscord, worker: Worker, settings: Settings, **options: Any
) -> AsyncIterator[AtriClient]:
    """A connected AtriClient; closed (and its task awaited) on the way out."""
    client = AtriClient(
        worker,
        settings.discord,
        error_reply=settings.worker.error_reply,
        sync_state_path=settings.path(settings.discord.commands_state),
        command_name=settings.bot.command_name,
        guild_ready_timeout=0.01,
        **options,
    )
    task = asyncio.create_task(client.start(TOKEN))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 10)
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def client(
    fake_discord: FakeDiscord, echo_service: Worker, discord_settings: Settings
) -> AsyncIterator[AtriClient]:
    async with running_client(fake_discord, echo_service, discord_settings) as started:
        yield started


class CountingEcho(EchoEngine):
    """Echo that counts its generations, and holds each until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.generations = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.generations += 1
        self.started.set()
        await self.gate.wait()
        return await super().generate(batch, gen, limits)


@pytest.fixture
def engine() -> CountingEcho:
    """The engine of the `service` a test opens (a test file may open its own service)."""
    return CountingEcho()


@pytest.fixture
async def service(discord_settings: Settings, engine: CountingEcho) -> AsyncIterator[ChatService]:
    async with await ChatService.open(discord_settings, engine=engine) as opened:
        yield opened

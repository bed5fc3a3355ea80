"""`/atri-admin reload version:<name>` passes the version to the worker (the bot's
owners only); without the option it names none, as before."""

from __future__ import annotations

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    EPHEMERAL,
    OWNER_ID,
    FakeDiscord,
    is_callback,
)
from tests.bot.recorded_reloads import record_reloads

V2 = "20260102-000000"


async def answer(fake: FakeDiscord, user: int, **options: str) -> str:
    payload = await fake.run_command(user, "atri-admin", "reload", string_options=options)
    (call,) = await fake.wait_for_calls(
        lambda c: is_callback(c) and f"/interactions/{payload['id']}/" in c.path
    )
    assert call.body["data"]["flags"] & EPHEMERAL
    return str(call.body["data"]["content"])


async def test_the_owner_names_the_version_and_a_server_admin_cannot(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    versions = record_reloads(monkeypatch, echo_service)
    assert await answer(fake_discord, ADMIN_ID, version=V2) == lines().owners_only
    assert versions == []
    fake_discord.add_person(OWNER_ID, "owner")
    assert V2 in await answer(fake_discord, OWNER_ID, version=V2)
    await answer(fake_discord, OWNER_ID)
    assert versions == [V2, ""]

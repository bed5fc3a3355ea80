"""`atri serve` with ATRI_DISCORD_TOKEN: the adapter starts, and refusals are one sentence."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr
from rich.console import Console

from atri.config import Secrets, Settings
from bot.discord.adapter import DiscordLoginError, run_discord
from bot.serve import run_adapters
from model.service import ChatService
from tests.bot.discord.conftest import TOKEN
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to


async def test_serve_with_a_token_brings_atri_to_discord(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    task = asyncio.create_task(run_adapters(echo_service, discord_settings, secrets, Console()))
    try:
        await fake_discord.wait_connected()
        await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 早上好", mentions=(BOT_ID,))
        (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        assert reply.body["content"] == "亚托莉听到了：早上好"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "IDENTIFY" in caplog.text  # discord.py's debug log was captured …
    assert TOKEN not in caplog.text  # … and the token is in none of it


async def test_a_wrong_token_is_one_sentence(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    secrets = Secrets(discord_token=SecretStr("not-the-token"))
    with pytest.raises(DiscordLoginError, match="Discord refused ATRI_DISCORD_TOKEN") as info:
        await run_discord(echo_service, discord_settings, secrets)
    assert "not-the-token" not in str(info.value)


async def test_missing_message_content_intent_is_one_sentence(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    fake_discord.refuse_privileged_intents = True
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    with pytest.raises(DiscordLoginError, match="Message Content Intent"):
        await asyncio.wait_for(run_discord(echo_service, discord_settings, secrets), 10)

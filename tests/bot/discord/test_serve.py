"""`atri serve` with ATRI_DISCORD_TOKEN: the adapter starts, and refusals are one sentence."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket

import discord.http
import pytest
from pydantic import SecretStr
from rich.console import Console

from atri.config import Secrets, Settings
from bot.discord.adapter import AtriClient, DiscordLoginError, run_discord
from bot.serve import run_adapters, serve, serve_adapters
from model.character.persona import canned_lines, configured_card_path, load_persona
from model.service import ChatService
from tests.bot.discord.conftest import TOKEN
from tests.bot.discord.fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)


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


@pytest.mark.parametrize(
    ("code", "sentence"), [(4004, "Reset Token"), (4013, "intents"), (4012, "upgrade")]
)
async def test_a_fatal_close_code_stops_discord_alone_with_one_sentence(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    code: int,
    sentence: str,
) -> None:
    fake_discord.close_codes = [code]
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    other_served = asyncio.Event()
    other_stopped = asyncio.Event()

    async def other_adapter() -> None:  # stands for QQ: it must keep serving
        other_served.set()
        try:
            await asyncio.Event().wait()
        finally:
            other_stopped.set()

    adapters = {
        "Discord": lambda: run_discord(echo_service, discord_settings, secrets),
        "QQ": other_adapter,
    }
    task = asyncio.create_task(serve_adapters(adapters, retry_first=0.01))
    try:
        await asyncio.wait_for(other_served.wait(), 5)
        for _ in range(500):
            if "Discord stopped" in caplog.text:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert not task.done() and not other_stopped.is_set()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (stopped,) = [r for r in caplog.records if r.getMessage().startswith("Discord stopped")]
    assert sentence in stopped.getMessage() and stopped.exc_info is None
    assert fake_discord.close_codes == [] and TOKEN not in caplog.text


async def test_an_unreachable_discord_is_retried_and_a_lone_fatal_error_is_raised(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/api/v10"
    monkeypatch.setattr(discord.http.Route, "BASE", dead)
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    adapters = {"Discord": lambda: run_discord(echo_service, discord_settings, secrets)}
    task = asyncio.create_task(serve_adapters(adapters, retry_first=0.2))
    try:
        for _ in range(500):
            if "Discord failed" in caplog.text:
                break
            await asyncio.sleep(0.01)
        assert "cannot be reached" in caplog.text and not task.done()
        monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.api_base)  # back online
        await fake_discord.wait_connected()
        await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 还在吗", mentions=(BOT_ID,))
        (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        assert reply.body["content"] == "亚托莉听到了：还在吗"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    fake_discord.close_codes = [4004]
    with pytest.raises(DiscordLoginError, match="Reset Token"):
        await asyncio.wait_for(serve_adapters(adapters, retry_first=0.01), 10)


async def test_discord_asking_for_shards_gets_the_sharded_client(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    fake_discord.require_shards = True
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    task = asyncio.create_task(run_discord(echo_service, discord_settings, secrets))
    try:
        await fake_discord.wait_connected()
        assert fake_discord.identify is not None and fake_discord.identify["shard"] == [0, 1]
        await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 分片", mentions=(BOT_ID,))
        (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        assert reply.body["content"] == "亚托莉听到了：分片"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_client_closed_before_its_servers_arrived_stays_quiet(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """discord.py's close() leaves the task that waits `guild_ready_timeout` for the
    servers after READY running; when it ended it dispatched "ready" to the closed client,
    whose loop is gone: "Task exception was never retrieved" (AttributeError) in the log,
    and "coroutine 'Client._run_event' was never awaited" when that record was freed (in
    the tests, in whichever test's teardown that was)."""
    client = AtriClient(
        echo_service,
        discord_settings.discord,
        sync_state_path=discord_settings.path(discord_settings.discord.commands_state),
        guild_ready_timeout=0.3,
    )
    task = asyncio.create_task(client.start(TOKEN))
    # READY is read (its wait for the servers has started). Not `client.user`: that is
    # set at login, before setup_hook's HTTP calls, which a close() then cut off (seen on
    # a loaded CI machine as "Connector is closed").
    while getattr(client._connection, "_ready_task", None) is None:
        await asyncio.sleep(0.01)
    assert not client.is_ready()
    await client.close()
    await asyncio.wait_for(task, 10)
    await asyncio.sleep(0.5)  # past the timeout: the leftover task has ended
    gc.collect()  # a failed task is reported when it is freed
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_serve_starts_discord_while_its_worker_is_away_and_answers_the_error_line(
    fake_discord: FakeDiscord, discord_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Unlike the console chat, which stops with a sentence: a bot is there for the moment
    the worker comes up, and meanwhile says her error line in DMs. In a server channel it
    is silent until it has read the channel modes (one an admin turned off stays so)."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        discord_settings.worker.url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    card = load_persona(configured_card_path(discord_settings))
    error_line = canned_lines(discord_settings, card).error
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    task = asyncio.create_task(serve(discord_settings, secrets, Console()))
    try:
        await fake_discord.wait_connected()
        await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 早上好", mentions=(BOT_ID,))
        await fake_discord.send_message(MEMBER_ID, "早上好", in_guild=False)
        (reply,) = await fake_discord.wait_for_calls(is_message_to(DM_CHANNEL_ID))
        assert reply.body["content"] == error_line
        assert not fake_discord.calls_matching(is_message_to(CHANNEL_ID))
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "Until it answers, chats get the error line" in caplog.text

"""Session 74's review of the bots' side. A Discord edit the worker never got was logged
at debug at most (over HTTP not even that: the relay answers an edit it cannot send
with her error line, which nobody read), so an edit that took a phone number out failed
silently; a delete the worker never got was a traceback. Both are now one warning that
names the message (`bot.relay.telling_worker`), through the real discord.py client, the
fake gateway and a real worker over HTTP that stops. Reading channel modes for a command
caught every exception, hiding programming errors: only the worker's failures are
caught now (real SQLite)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.relay import HttpWorker
from model.protocol import ChannelMode, ChannelSetting, ChatRequest, MessageRef, ReplyCut
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.discord.conftest import fake_discord_gateway, running_client
from tests.bot.discord.fake_discord import DM_CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_cannot_post_s53 import ADAPTER_LOG, adapter_lines
from tests.bot.discord.test_chat import MENTION, edited, say
from tests.model.server.conftest import ADMIN_TOKEN

PHONE = "我的电话是 13800000000"
SCOPE = f"discord:user:{MEMBER_ID}"


@asynccontextmanager
async def told_in_a_dm_then_worker_gone(
    monkeypatch: pytest.MonkeyPatch, service: ChatService, settings: Settings
) -> AsyncIterator[tuple[FakeDiscord, dict[str, Any]]]:
    """The member's DM answered by a worker over HTTP, which then stops: the fake
    Discord and that DM."""
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    sock = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    relay = settings.worker.model_copy(update={"url": url})
    async with (
        fake_discord_gateway(monkeypatch) as fake,
        HttpWorker(relay, secrets) as remote,
        running_client(fake, remote, settings),
    ):
        async with serving(create_app(service, secrets), sock):
            sent = await say(fake, MEMBER_ID, PHONE, in_guild=False)
            await fake.wait_for_calls(is_message_to(DM_CHANNEL_ID))
        yield fake, sent


async def adapter_said(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    for _ in range(100):
        if adapter_lines(caplog, level):
            break
        await asyncio.sleep(0.05)
    return adapter_lines(caplog, level)


async def test_an_edit_the_worker_never_got_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    echo_service: ChatService,
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=ADAPTER_LOG)
    async with told_in_a_dm_then_worker_gone(monkeypatch, echo_service, echo_settings) as (
        fake,
        sent,
    ):
        await fake.dispatch("MESSAGE_UPDATE", edited(fake, sent, f"{MENTION} 电话发你私信了"))
        said = await adapter_said(caplog, logging.WARNING)
    assert said == [
        f"could not change Discord message {sent['id']} in memory: "
        "the worker did not take the edit; it keeps the old text"
    ]
    # What the warning says: the number is still in her memory.
    assert PHONE in [m.content for m in await echo_service.memory.history(SCOPE)]


async def test_a_delete_the_worker_never_got_is_one_warning_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    echo_service: ChatService,
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=ADAPTER_LOG)
    async with told_in_a_dm_then_worker_gone(monkeypatch, echo_service, echo_settings) as (
        fake,
        sent,
    ):
        await fake.dispatch("MESSAGE_DELETE", {"id": sent["id"], "channel_id": str(DM_CHANNEL_ID)})
        (said,) = await adapter_said(caplog, logging.WARNING)
    assert said.startswith(f"could not forget deleted Discord message {sent['id']}: ")
    assert "Cannot reach the worker" in said
    assert adapter_lines(caplog, logging.ERROR) == []
    assert all(r.exc_info is None for r in caplog.records if r.name == ADAPTER_LOG)


ADMIN_HERE = Actor(platform="qq", user_id="1", is_admin=True, channel_id="g1")


async def misspelt_modes(platform: str) -> dict[str, ChannelMode]:
    """A programming error in reading the modes, as a typo makes one."""
    return {}.get_all(platform)  # type: ignore[attr-defined,no-any-return]


async def test_a_programming_error_reading_modes_is_not_hidden(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/atri status` said nothing of it (a debug line), and `/atri mode` took every
    mode as a change; the platforms' command handlers log it with its traceback."""
    monkeypatch.setattr(echo_service, "channel_modes", misspelt_modes)
    with pytest.raises(AttributeError):
        await commands.status(echo_service, ADMIN_HERE)
    with pytest.raises(AttributeError):
        await commands.set_channel_mode(echo_service, ADMIN_HERE, "off")


async def test_memory_failing_under_the_modes_still_answers_the_commands(
    echo_service: ChatService,
) -> None:
    """The worker's own failures stay caught: its database losing the table (another
    program writing the file)."""
    await echo_service.set_channel_mode(ChannelSetting(platform="qq", channel_id="g1", mode="off"))
    with sqlite3.connect(echo_service.memory.path) as other_program:
        other_program.execute("DROP TABLE channel_modes")
    said = await commands.status(echo_service, ADMIN_HERE)
    assert said.ok and "turned off" not in said.text.lower()
    changed = await commands.set_channel_mode(echo_service, ADMIN_HERE, "all")
    assert not changed.ok and not changed.refused  # memory unavailable, said as such


def test_a_message_ref_is_of_a_request() -> None:
    request = ChatRequest(
        platform="discord", user_id="7", text="hi", channel_id="c", guild_id="g", request_id="9"
    )
    cut = ReplyCut.of(request, keep_message=True)
    assert isinstance(cut, ReplyCut) and cut.keep_message
    assert cut.model_dump(exclude={"sent", "keep_message"}) == MessageRef(
        platform="discord", user_id="7", channel_id="c", guild_id="g", request_id="9"
    ).model_dump(exclude={"sent", "keep_message"})

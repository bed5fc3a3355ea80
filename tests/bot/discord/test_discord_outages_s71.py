"""Session 71, through the real discord.py client and the fake Discord: Discord failing
while she writes a reply.

A fatal gateway close (4004 token reset, 4014 intent turned off) during a generation
made the post raise aiohttp's "Session is closed": a traceback, and memory kept the
reply nobody saw. A 503 (which discord.py does not retry) threw a finished reply away
after one try. A Cloudflare 429 was logged as its HTML page."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import web
from pydantic import SecretStr

import bot.discord.adapter as adapter
from atri.config import Secrets, Settings
from bot.discord.adapter import DiscordLoginError, run_discord
from model.protocol import ScopeRef
from model.service import ChatService
from tests.bot.discord.conftest import TOKEN, CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    MESSAGE_BUCKET,
    Call,
    FakeDiscord,
    _json,
    is_a_post,
)

MENTION = f"<@{BOT_ID}>"
ECHO = "亚托莉听到了："
CLOUDFLARE_PAGE = "<html>error 1015 you are being rate limited</html>"
# (status, body, headers) Discord answers a post with, instead of creating it.
Fault = tuple[int, Any, dict[str, str]]
SERVICE_UNAVAILABLE: Fault = (503, {"message": "503: Service Unavailable", "code": 0}, {})
CLOUDFLARE_BAN: Fault = (429, CLOUDFLARE_PAGE, {"Content-Type": "text/html"})


class FaultyDiscord(FakeDiscord):
    """Answers the next posts whose text holds `faulty_text` with `faults`, one each."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[Fault] = []
        self.faulty_text = ""

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, dict(request.query), None)
        if not (is_a_post(call) and self.faults):
            return await super()._rest(request)
        call.body = json.loads(await request.text())
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if self.faulty_text not in call.body["content"]:  # the body is read: answered here
            return _json(self._answer(call), headers=MESSAGE_BUCKET)
        status, data, headers = self.faults.pop(0)
        if isinstance(data, str):
            return web.Response(text=data, status=status, headers=headers)
        return _json(data, status=status, headers=headers)


@pytest.fixture
async def faulty(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FaultyDiscord]:
    fake = FaultyDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    # Retries a test can wait for; the real ones are seconds.
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", (0.05, 0.05, 0.05, 0.05), raising=False)
    try:
        yield fake
    finally:
        await fake.close()


async def history(service: ChatService, user_id: int) -> list[tuple[str, str]]:
    ref = ScopeRef(
        platform="discord", user_id=str(user_id), channel_id=str(CHANNEL_ID), guild_id=str(GUILD_ID)
    )
    return [(turn.role, turn.content) for turn in await service.history(ref)]


async def settled_history(
    service: ChatService, user_id: int, expected: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Memory once it reads `expected`, or as it is after 3 s."""
    for _ in range(60):
        now = await history(service, user_id)
        if now == expected:
            break
        await asyncio.sleep(0.05)
    return now


def posted(fake: FakeDiscord) -> list[Call]:
    return fake.calls_matching(is_a_post)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("code", [4004, 4014])
async def test_a_fatal_close_while_she_writes_leaves_the_reply_unsent_in_memory(
    faulty: FaultyDiscord,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    caplog.set_level(logging.INFO)
    engine = CountingEcho()
    secrets = Secrets(discord_token=SecretStr(TOKEN))
    async with await ChatService.open(discord_settings, engine=engine) as service:
        running = asyncio.create_task(run_discord(service, discord_settings, secrets))
        await faulty.wait_connected()
        engine.gate.clear()
        await faulty.send_message(MEMBER_ID, f"{MENTION} 你在吗", mentions=(BOT_ID,))
        await asyncio.wait_for(engine.started.wait(), 5)
        assert faulty._connection is not None
        await faulty._connection.ws.close(code=code)
        with pytest.raises(DiscordLoginError):
            await asyncio.wait_for(running, 10)
        engine.gate.set()
        expected = [("user", "你在吗")]
        assert await settled_history(service, MEMBER_ID, expected) == expected
    assert posted(faulty) == []
    assert warnings(caplog) == [
        f"Discord: ATRI's reply in channel {CHANNEL_ID} was not posted, the Discord client "
        "closed meanwhile; her memory keeps only what went out"
    ]
    assert "Ignoring exception" not in caplog.text


async def test_a_503_is_tried_again_with_the_same_nonce(
    faulty: FaultyDiscord, service: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    faulty.faults = [SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE]
    async with running_client(faulty, service, service.settings):
        await faulty.send_message(MEMBER_ID, f"{MENTION} 早上好", mentions=(BOT_ID,))
        tries = await faulty.wait_for_calls(is_a_post, count=3)
        await asyncio.sleep(0.2)  # a correction of memory would be made by now
        expected = [("user", "早上好"), ("assistant", ECHO + "早上好")]
        assert await history(service, MEMBER_ID) == expected
    assert [c.body["content"] for c in tries] == [ECHO + "早上好"] * 3
    # Discord returns the message an earlier try created rather than a second one.
    assert len({c.body["nonce"] for c in tries}) == 1
    assert all(c.body["enforce_nonce"] is True for c in tries)
    assert warnings(caplog) == []


async def test_a_lasting_5xx_ends_the_reply_unsent_after_a_bounded_time(
    faulty: FaultyDiscord,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", (0.2, 0.2, 0.2, 0.2), raising=False)
    monkeypatch.setattr(
        adapter, "POST_RETRY_WITHIN_SECONDS", 0.3, raising=False
    )  # room for one more try
    faulty.faults = [SERVICE_UNAVAILABLE] * 10
    async with running_client(faulty, service, service.settings):
        await faulty.send_message(MEMBER_ID, f"{MENTION} 早上好", mentions=(BOT_ID,))
        expected = [("user", "早上好")]
        assert await settled_history(service, MEMBER_ID, expected) == expected
        await asyncio.sleep(0.5)  # a third try would have come by now
    assert len(posted(faulty)) == 2
    assert warnings(caplog) == [
        f"could not reply in Discord channel {CHANNEL_ID}: 503 Service Unavailable "
        "(error code: 0): 503: Service Unavailable"
    ]


async def test_others_in_the_channel_are_answered_while_a_reply_waits_to_retry(
    faulty: FaultyDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", (1.0, 1.0, 1.0, 1.0))
    faulty.faulty_text = "第一"
    faulty.faults = [SERVICE_UNAVAILABLE]
    async with running_client(faulty, service, service.settings):
        await faulty.send_message(MEMBER_ID, f"{MENTION} 第一", mentions=(BOT_ID,))
        await faulty.wait_for_calls(is_a_post)
        await faulty.send_message(ADMIN_ID, f"{MENTION} 第二", mentions=(BOT_ID,))
        await faulty.wait_for_calls(is_a_post, count=3, timeout=5)
    assert [c.body["content"] for c in posted(faulty)] == [
        ECHO + "第一",  # refused: 503
        ECHO + "第二",
        ECHO + "第一",
    ]


async def test_a_cloudflare_ban_is_said_in_one_sentence_once_a_while(
    faulty: FaultyDiscord, service: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    faulty.faults = [CLOUDFLARE_BAN, CLOUDFLARE_BAN]
    async with running_client(faulty, service, service.settings):
        for said in ("一", "二"):
            await faulty.send_message(MEMBER_ID, f"{MENTION} {said}", mentions=(BOT_ID,))
        expected = [("user", "一"), ("user", "二")]
        assert await settled_history(service, MEMBER_ID, expected) == expected
    assert len(posted(faulty)) == 2  # not retried: the ban lasts an hour
    assert warnings(caplog) == [
        "Discord's edge (Cloudflare) has rate-limited this machine's IP address, usually "
        "for about an hour, most often after too many invalid requests (floods of 401, "
        "403 or 429 answers): her replies are refused until it lifts"
    ]
    assert "<html>" not in caplog.text


async def test_a_retry_waiting_when_the_client_closes_ends_the_reply_unsent(
    faulty: FaultyDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`atri serve` stopped while a part waited 20 s for its retry: the wait outlasted the
    stop and the unposted reply stayed remembered as said. The wait now ends when the
    client closes, and memory is corrected at once."""
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", (20.0, 20.0), raising=False)
    faulty.faults = [SERVICE_UNAVAILABLE] * 3
    async with running_client(faulty, service, service.settings):
        await faulty.send_message(MEMBER_ID, f"{MENTION} 晚安", mentions=(BOT_ID,))
        await faulty.wait_for_calls(is_a_post)
    expected = [("user", "晚安")]
    assert await settled_history(service, MEMBER_ID, expected) == expected
    assert len(posted(faulty)) == 1

"""Session 75: what `answer` (the Discord message handler) guarantees, through the real
discord.py client and the fake Discord. No Exception leaves it: a worker that fails is
answered with her error line, a post Discord refuses ends the reply with a warning, a
typing indicator or a ⏳ cut off is ignored, a bug is one traceback of hers, and
the next message is answered as usual. A cancellation goes through, posting nothing more.

Before, a dropped connection under the typing indicator answered her error line without
asking the worker, and one under the ⏳ (or a worker's malformed reply) escaped as
discord.py's "Ignoring exception in on_message"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import web

import bot.discord.adapter as adapter
from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.protocol import ChatRequest, Reply
from model.service import ChatService
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    MEMBER_ID,
    Call,
    is_message_to,
    is_reaction,
    is_typing_in,
)
from tests.bot.discord.test_chat import ECHO, UnreachableWorker, say
from tests.bot.discord.test_discord_outages_s71 import (
    Fault,
    FaultyDiscord,
    settled_history,
    warnings,
)

HANDLED = "could not be handled; it is left unanswered"


class CuttingDiscord(FaultyDiscord):
    """FaultyDiscord (posts answered with `faults`) that also drops the connection of
    each request `cut` matches, answering nothing: the client reads "Server disconnected"."""

    def __init__(self) -> None:
        super().__init__()
        self.cut: Callable[[Call], bool] = lambda call: False

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        call = Call(request.method, "/" + request.match_info["path"], dict(request.query), None)
        if not self.cut(call):
            return await super()._rest(request)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.05)
        return web.Response(status=204)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CuttingDiscord]:
    cutting = CuttingDiscord()
    await cutting.start()
    monkeypatch.setattr(discord.http.Route, "BASE", cutting.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(cutting.gateway_url)
    )
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", ())  # a 5xx is final here
    try:
        yield cutting
    finally:
        await cutting.close()


def handler_outcomes(client: AtriClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How each on_message ended, as discord.py's own wrapper (which swallows a
    cancellation and logs any other exception) would see it."""
    outcomes: list[str] = []
    handled = client.on_message

    async def watched(message: discord.Message) -> None:
        try:
            await handled(message)
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise
        except Exception as exc:
            outcomes.append(f"raised {type(exc).__name__}")
            raise
        outcomes.append("returned")

    # discord.py looks its handlers up on the instance at each event.
    monkeypatch.setattr(client, "on_message", watched)
    return outcomes


async def ended(outcomes: list[str], count: int) -> None:
    for _ in range(200):
        if len(outcomes) >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"handlers ended: {outcomes}")


def posts_to_channel(fake: CuttingDiscord) -> list[str]:
    return [c.body["content"] for c in fake.calls_matching(is_message_to(CHANNEL_ID))]


async def still_answers(fake: CuttingDiscord, count: int) -> None:
    """Her next message in the channel is answered: nothing was left stuck."""
    await say(fake, MEMBER_ID, "还在吗")
    await fake.wait_for_calls(
        lambda c: is_message_to(CHANNEL_ID)(c) and c.body["content"] == ECHO + "还在吗"
    )
    assert len(posts_to_channel(fake)) == count


async def test_a_failing_worker_is_answered_with_her_error_line(
    fake: CuttingDiscord,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    worker = UnreachableWorker()  # every call fails; no Worker in full
    async with running_client(fake, worker, discord_settings) as client:  # type: ignore[arg-type]
        outcomes = handler_outcomes(client, monkeypatch)
        sent = await say(fake, MEMBER_ID, "你好")
        await ended(outcomes, 1)
    assert outcomes == ["returned"]
    assert posts_to_channel(fake) == [discord_settings.worker.error_reply]
    (failure,) = [r for r in caplog.records if r.name == adapter.log.name]
    assert failure.getMessage() == f"Discord message {sent['id']} could not be answered"
    assert failure.exc_info is not None and failure.exc_info[0] is ConnectionError
    assert "Ignoring exception" not in caplog.text


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (
            (400, {"message": "Invalid Form Body", "code": 50035}, {}),
            "400 Bad Request (error code: 50035): Invalid Form Body",
        ),
        (  # Send Messages taken away: discord.Forbidden
            (403, {"message": "Missing Permissions", "code": 50013}, {}),
            "403 Forbidden (error code: 50013): Missing Permissions",
        ),
        (
            (503, {"message": "503: Service Unavailable", "code": 0}, {}),
            "503 Service Unavailable (error code: 0): 503: Service Unavailable",
        ),
    ],
)
async def test_a_post_discord_refuses_ends_the_reply_with_one_warning(
    fake: CuttingDiscord,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    said: str,
) -> None:
    caplog.set_level(logging.INFO)
    fake.faults, fake.faulty_text = [fault], "早上好"
    async with running_client(fake, service, service.settings) as client:
        outcomes = handler_outcomes(client, monkeypatch)
        await say(fake, MEMBER_ID, "早上好")
        await ended(outcomes, 1)
        # Nothing went out: the message stays in memory, unanswered.
        expected = [("user", "早上好")]
        assert await settled_history(service, MEMBER_ID, expected) == expected
        await still_answers(fake, 2)
    assert outcomes[0] == "returned"
    assert warnings(caplog) == [f"could not reply in Discord channel {CHANNEL_ID}: {said}"]
    assert "Ignoring exception" not in caplog.text


async def test_a_typing_indicator_cut_off_does_not_stop_her_answer(
    fake: CuttingDiscord,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It was answered with her error line, the worker never asked."""
    caplog.set_level(logging.INFO)
    fake.cut = is_typing_in(CHANNEL_ID)
    async with running_client(fake, service, service.settings) as client:
        outcomes = handler_outcomes(client, monkeypatch)
        await say(fake, MEMBER_ID, "你好")
        await ended(outcomes, 1)
    assert fake.calls_matching(is_typing_in(CHANNEL_ID))  # it was tried, and cut off
    assert outcomes == ["returned"]
    assert posts_to_channel(fake) == [ECHO + "你好"]
    assert warnings(caplog) == []


async def test_a_busy_reaction_cut_off_is_left_at_that(
    fake: CuttingDiscord,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It escaped as discord.py's "Ignoring exception in on_message"."""
    caplog.set_level(logging.INFO)
    discord_settings.worker.rate_limit_per_minute = 1
    fake.cut = is_reaction
    async with (
        await ChatService.open(discord_settings) as service,
        running_client(fake, service, discord_settings) as client,
    ):
        outcomes = handler_outcomes(client, monkeypatch)
        # Answered, told she is busy, then a ⏳ instead of a second notice.
        for count, text in enumerate(("第一条", "第二条", "第三条"), start=1):
            await say(fake, MEMBER_ID, text)
            await ended(outcomes, count)
    assert fake.calls_matching(is_reaction)
    assert outcomes == ["returned"] * 3
    assert posts_to_channel(fake) == [ECHO + "第一条", discord_settings.worker.busy_reply]
    assert warnings(caplog) == []


async def test_a_bug_is_one_traceback_of_hers_and_the_next_message_is_answered(
    fake: CuttingDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's reply that is no Reply (a plugin's bug) escaped the handler."""
    caplog.set_level(logging.INFO)
    chat = echo_service.chat

    async def broken_chat(request: ChatRequest) -> Reply:
        if "坏" in request.text:
            return None  # type: ignore[return-value]  # the bug under test
        return await chat(request)

    monkeypatch.setattr(echo_service, "chat", broken_chat)
    async with running_client(fake, echo_service, discord_settings) as client:
        outcomes = handler_outcomes(client, monkeypatch)
        sent = await say(fake, MEMBER_ID, "坏掉的回复")
        await ended(outcomes, 1)
        await still_answers(fake, 1)
    assert outcomes[0] == "returned"
    (bug,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert bug.getMessage() == f"Discord message {sent['id']} {HANDLED}"
    assert bug.exc_info is not None and bug.exc_info[0] is AttributeError
    assert "Ignoring exception" not in caplog.text


def running_handler() -> asyncio.Task[None]:
    (task,) = [
        t for t in asyncio.all_tasks() if t.get_name() == "discord.py: on_message" and not t.done()
    ]
    return task


async def test_a_handler_cancelled_while_she_thinks_posts_nothing_and_holds_nothing(
    fake: CuttingDiscord,
    service: ChatService,
    engine: CountingEcho,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_client(fake, service, service.settings) as client:
        outcomes = handler_outcomes(client, monkeypatch)
        engine.gate.clear()
        await say(fake, MEMBER_ID, "慢慢想")
        await asyncio.wait_for(engine.started.wait(), 5)
        running_handler().cancel()
        await ended(outcomes, 1)
        engine.gate.set()
        await still_answers(fake, 1)  # no error line for the cancelled one
    assert outcomes[0] == "cancelled"
    # The typing indicator was let go: the next answer showed its own.
    assert len(fake.calls_matching(is_typing_in(CHANNEL_ID))) == 2
    assert warnings(caplog) == []


async def test_a_handler_cancelled_while_she_posts_lets_the_channel_s_turn_go(
    fake: CuttingDiscord,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    fake.message_seconds = 3.0  # her post hangs
    async with running_client(fake, service, service.settings) as client:
        outcomes = handler_outcomes(client, monkeypatch)
        await say(fake, MEMBER_ID, "慢慢发")
        await fake.wait_for_calls(is_message_to(CHANNEL_ID))
        running_handler().cancel()
        await ended(outcomes, 1)
        fake.message_seconds = 0.0
        started = asyncio.get_running_loop().time()
        await still_answers(fake, 2)
        assert asyncio.get_running_loop().time() - started < 2.0  # not after the hung post
    assert outcomes[0] == "cancelled"
    assert warnings(caplog) == []

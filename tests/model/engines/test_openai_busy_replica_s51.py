"""Session 51: a replica too busy for a chat (a 429, or a 503 saying it is busy) hands the
row to another serving replica, once, instead of the user getting the error line while
that one is idle. Each replica is a real local HTTP server (aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from atri.config import GenerationSettings, Settings
from model.engines.openai import OpenAIEngine, ServerBusy, busy
from tests.model.engines.test_openai_servers_s50 import chat_ok, remote, server

GEN = GenerationSettings(max_new_tokens=16)
CHAT = [{"role": "user", "content": "hi"}]
Handler = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


async def rate_limited(body: dict[str, Any]) -> web.StreamResponse:
    """vLLM's (and OpenAI's) error shape for a 429."""
    error = {"message": "Too Many Requests", "type": "rate_limit_exceeded", "code": 429}
    return web.json_response({"error": error}, status=429)


async def llamacpp_busy(body: dict[str, Any]) -> web.StreamResponse:
    """llama.cpp's server's error shape, a 503 that says it is busy."""
    error = {"code": 503, "message": "Server is busy", "type": "unavailable_error"}
    return web.json_response({"error": error}, status=503)


async def answers(body: dict[str, Any]) -> web.StreamResponse:
    return web.json_response(chat_ok("Hello!"))


async def hangs(body: dict[str, Any]) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response(chat_ok("too late"))


@contextlib.asynccontextmanager
async def replicas(
    settings: Settings, *handlers: Handler
) -> AsyncIterator[tuple[OpenAIEngine, list[list[str]]]]:
    """The engine over one fake server per handler (its chat route); yields it and the
    paths each server was POSTed."""
    async with contextlib.AsyncExitStack() as stack:
        served = [
            await stack.enter_async_context(server({"/chat/completions": h})) for h in handlers
        ]
        settings = remote(settings, served[0][0])
        settings.model.openai_base_url = [url for url, _ in served]
        engine = await OpenAIEngine.open(settings)
        try:
            yield engine, [posted for _, posted in served]
        finally:
            await engine.close()


@pytest.mark.parametrize("refusal", [rate_limited, llamacpp_busy], ids=["429", "503-busy"])
async def test_a_busy_replicas_row_is_answered_by_the_idle_one(
    settings: Settings, caplog: pytest.LogCaptureFixture, refusal: Handler
) -> None:
    caplog.set_level(logging.INFO, logger="model.engines.openai")
    async with replicas(settings, refusal, answers) as (engine, posted):
        # Four rows one after another: the rotation gives the busy one its turns too.
        replies = [(await engine.generate([CHAT], GEN))[0] for _ in range(4)]
        assert all(r.text == "Hello!" for r in replies)
        assert posted[1].count("/chat/completions") == 4
        assert posted[0], "the busy replica had its turns"
        # Busy is not down: it stays in the rotation.
        assert all(r.down_since is None for r in engine.replicas)
        retries = [r for r in caplog.records if "is busy" in r.getMessage()]
        assert len(retries) == len(posted[0])
        assert all(engine.replicas[0].url in r.getMessage() for r in retries)


async def test_a_row_is_asked_of_one_other_replica_only(settings: Settings) -> None:
    async with replicas(settings, rate_limited, rate_limited, rate_limited) as (engine, posted):
        with pytest.raises(ServerBusy):
            await engine.generate([CHAT], GEN)
        assert sum(len(p) for p in posted) == 2  # the first try and one other


async def test_one_replica_busy_is_the_error_as_before(settings: Settings) -> None:
    async with replicas(settings, rate_limited) as (engine, posted):
        with pytest.raises(ServerBusy):
            await engine.generate([CHAT], GEN)
        assert posted[0] == ["/chat/completions"]
        assert engine.replicas[0].down_since is None


async def test_a_replica_out_of_the_rotation_is_not_the_other_one(settings: Settings) -> None:
    async with replicas(settings, rate_limited, answers) as (engine, posted):
        engine.replicas[1].down_since = time.monotonic()  # just left: its retry not due
        engine.replicas[1].reason = "restarting"
        with pytest.raises(ServerBusy):
            await engine.generate([CHAT], GEN)
        assert posted == [["/chat/completions"], []]


async def test_the_retry_ends_with_the_requests_deadline(settings: Settings) -> None:
    async with replicas(settings, rate_limited, hangs) as (engine, posted):
        engine._turn = len(engine.replicas) - 1  # the busy one first
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await engine.generate([CHAT], GEN)
        assert time.monotonic() - started < 5
        assert posted == [["/chat/completions"], ["/chat/completions"]]


def test_only_a_429_or_a_503_that_says_busy_is_busy() -> None:
    assert busy(429, "Rate limit exceeded")
    assert busy(503, "Server is busy, please try again")
    assert busy(503, "The server is overloaded")
    assert not busy(503, "Service Unavailable")  # a server restarting: down, not busy
    assert not busy(503, "Loading model")
    assert not busy(500, "busy")

"""A trusted proxy's connections are not counted per address: it carries many clients
(each rate-limited by its X-Forwarded-For address), and 64 of them at once through a
proxy on another machine got 503. Real sockets against a real server, on both parsers.

The test's connections come from 127.0.0.1, so loopback is counted here as a proxy on
another machine would be."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

import pytest

from atri.config import Secrets, Settings
from bot.relay import MAX_CONNECTIONS as RELAY_CONNECTIONS
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.server.slow_clients import MAX_PER_ADDRESS, PER_ADDRESS_MESSAGE, ConnectionLimits
from model.service import ChatService
from tests.model.server.test_slow_clients import Client, health

Served = Callable[[list[str]], AbstractAsyncContextManager[tuple[str, int]]]
# One connection per address, loopback counted: a second from 127.0.0.1 is one too many.
LIMITS = ConnectionLimits(max_connections=8, per_address=1, count_loopback=True)


@pytest.fixture(params=["httptools", "h11"])
async def served_trusting(
    request: pytest.FixtureRequest, echo_settings: Settings, secrets: Secrets
) -> AsyncIterator[Served]:
    """Serve with `[worker] trusted_proxies` set to the given list (on this test's parser)."""

    @asynccontextmanager
    async def served(proxies: list[str]) -> AsyncIterator[tuple[str, int]]:
        echo_settings.worker.trusted_proxies = proxies
        async with await ChatService.open(echo_settings, engine=EchoEngine()) as service:
            app = create_app(service, secrets)
            limits = replace(LIMITS, http=request.param)
            async with serving(app, bind_socket("127.0.0.1", 0), limits) as url:
                host, port = url.removeprefix("http://").rsplit(":", 1)
                yield host, int(port)

    return served


async def connections_served(address: tuple[str, int], count: int) -> None:
    held = [await Client.open(address) for _ in range(count)]
    try:
        for client in held:
            await health(client)
    finally:
        for client in held:
            client.close()


@pytest.mark.parametrize("proxies", [["127.0.0.1"], ["127.0.0.0/8"], ["*"]])
async def test_a_trusted_proxy_holds_more_connections_than_one_address_may(
    served_trusting: Served, proxies: list[str]
) -> None:
    async with served_trusting(proxies) as address:
        await connections_served(address, 3)


async def test_an_address_not_trusted_is_still_counted(served_trusting: Served) -> None:
    async with served_trusting(["192.0.2.2", "10.0.0.0/8", "::1"]) as address:
        first = await Client.open(address)
        try:
            await health(first)
            extra = await Client.open(address)
            received, _ = await extra.until_closed()
            extra.close()
            assert received.startswith(b"HTTP/1.1 503")
            assert PER_ADDRESS_MESSAGE.encode() in received
        finally:
            first.close()


def test_a_bot_never_opens_more_connections_than_its_worker_allows_one_address() -> None:
    # A bot on another machine than its worker got 503 for each connection past the cap.
    assert RELAY_CONNECTIONS <= MAX_PER_ADDRESS

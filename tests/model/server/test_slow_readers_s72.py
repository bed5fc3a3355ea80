"""Clients that send a request and never read its reply: real sockets against a real server.

On loopback the kernel takes a whole reply into its 4 MB send buffer, so a client that
reads nothing holds nothing. Over a real link a peer's zero window stops it at some tens of
KB: here the server's send buffer is made that small (accepted sockets inherit the
listening socket's) and the client's receive buffer tiny, as the tester's wan_atri.py did.
Each test runs on both HTTP/1.1 parsers uvicorn may choose, with a short write deadline."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

import pytest

import model.server.app as app_module
from atri.config import Secrets, Settings
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.server.slow_clients import PER_ADDRESS_MESSAGE, ConnectionLimits
from model.service import ChatService

# The test server's write deadline (the real one is 60 s).
DEADLINE = 1.0
# Longer than any deadline here, short enough for a failing test to end quickly.
WAIT = 10.0
# The echo engine says it back: about 1,250 SSE chunks, some 340 KB, far more than the
# small buffers below and asyncio's 64 KB high-water mark hold.
MESSAGE = "word " * 2000
SERVER_SEND_BUFFER = 16 * 1024
CLIENT_RECEIVE_BUFFER = 1024

Served = Callable[[ConnectionLimits], AbstractAsyncContextManager[tuple[str, int]]]


@pytest.fixture(params=["httptools", "h11"])
async def served(
    request: pytest.FixtureRequest, echo_settings: Settings, secrets: Secrets
) -> AsyncIterator[Served]:
    """Serve with the given limits (on this test's parser) and a WAN-sized send buffer."""
    echo_settings.worker.rate_limit_per_minute = 0
    async with await ChatService.open(echo_settings, engine=EchoEngine()) as service:

        @asynccontextmanager
        async def serve(limits: ConnectionLimits) -> AsyncIterator[tuple[str, int]]:
            sock = bind_socket("127.0.0.1", 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SERVER_SEND_BUFFER)
            limits = replace(limits, http=request.param)
            async with serving(create_app(service, secrets), sock, limits) as url:
                host, port = url.removeprefix("http://").rsplit(":", 1)
                yield host, int(port)

        yield serve


def stream_request() -> bytes:
    body = json.dumps({"stream": True, "messages": [{"role": "user", "content": MESSAGE}]})
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body.encode()


async def connect(address: tuple[str, int], receive_buffer: int) -> socket.socket:
    """A raw connection with a small receive window (set before connecting, as it must be)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, address)
    return sock


async def read_all(sock: socket.socket, pause: float = 0.0, burst: int = 0) -> bytes:
    """What the server sends until it closes or resets the connection; with `burst`, about
    that many bytes at a time, `pause` seconds apart."""
    loop = asyncio.get_running_loop()
    received = bytearray()
    since_pause = 0
    try:
        while chunk := await asyncio.wait_for(loop.sock_recv(sock, 65536), WAIT):
            received += chunk
            since_pause += len(chunk)
            if burst and since_pause >= burst:
                since_pause = 0
                await asyncio.sleep(pause)
    except ConnectionResetError:
        pass
    return bytes(received)


async def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    """Whether `text` is logged within WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(text in record.getMessage() for record in caplog.records):
            return True
        await asyncio.sleep(0.05)
    return False


async def health_status(address: tuple[str, int]) -> bytes:
    """The status line of GET /health on a fresh connection."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()
    return received


async def test_a_client_reading_none_of_its_reply_loses_its_connection_and_slot(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    # 64 such connections an address filled the 512 cap, and everyone got 503 for ever.
    caplog.set_level(logging.WARNING, logger="model.server.slow_clients")
    limits = ConnectionLimits(write_timeout=DEADLINE, per_address=1, count_loopback=True)
    async with served(limits) as address:
        stalled = await connect(address, CLIENT_RECEIVE_BUFFER)
        try:
            await asyncio.get_running_loop().sock_sendall(stalled, stream_request())
            # Its slot is held while the reply waits on it...
            assert PER_ADDRESS_MESSAGE.encode() in await health_status(address)
            assert await logged(
                caplog, "closing the connection of 127.0.0.1: it took too little of its reply"
            )
            # ...and comes back once the connection is cut, the reply left unfinished.
            assert (await health_status(address)).startswith(b"HTTP/1.1 200")
            assert b"[DONE]" not in await read_all(stalled)
        finally:
            stalled.close()


async def test_a_stream_read_in_bursts_is_never_cut(served: Served) -> None:
    # Each pause is shorter than the deadline, all of them together several times longer.
    async with served(ConnectionLimits(write_timeout=DEADLINE)) as address:
        reader = await connect(address, 4096)
        try:
            await asyncio.get_running_loop().sock_sendall(reader, stream_request())
            started = time.monotonic()
            received = await read_all(reader, pause=DEADLINE / 2, burst=64 * 1024)
            assert received.startswith(b"HTTP/1.1 200")
            assert b"data: [DONE]" in received
            assert time.monotonic() - started > 2 * DEADLINE
        finally:
            reader.close()


async def test_a_stop_waits_for_an_unread_reply_no_longer_than_promised(
    served: Served,
    echo_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SIGTERM said "up to request_timeout_seconds" and waited for ever on such a client.
    echo_settings.worker.request_timeout_seconds = 1.0
    monkeypatch.setattr(app_module, "STOP_MARGIN_SECONDS", 0.5)
    caplog.set_level(logging.WARNING, logger="model.server.app")
    # The write deadline (60 s) is far off: the stop alone must end it.
    serve = served(ConnectionLimits())
    address = await serve.__aenter__()
    stalled = await connect(address, CLIENT_RECEIVE_BUFFER)
    try:
        await asyncio.get_running_loop().sock_sendall(stalled, stream_request())
        await asyncio.sleep(0.5)  # its reply is being written
        started = time.monotonic()
        await asyncio.wait_for(serve.__aexit__(None, None, None), WAIT)
        assert time.monotonic() - started < 1.5 + 1.0  # request timeout and margin, and slack
        assert await logged(caplog, "Stopping: 1 connection(s) still open after 1.5 s")
        assert b"[DONE]" not in await read_all(stalled)
    finally:
        stalled.close()

"""A fresh worker under a low descriptor limit: anyio imported its asyncio backend on the
first use of its thread pool, which was the first burst of users; with every descriptor
taken by their connections the import failed (EMFILE, then "KeyError: 'asyncio'"), and
each got a plain-text 500 and a traceback. The worker warms the pool before serving, and
raises its soft descriptor limit to the hard one."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from typing import Any

import anyio._core._eventloop as eventloop
import pytest

from atri.config import Secrets, Settings
from model.server import slow_clients
from model.server.app import bind_socket, create_app, serve_app
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN


async def raw_post(url: str, path: str, body: bytes) -> bytes:
    """A POST over a plain asyncio stream: no client library that needs anyio itself."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {ADMIN_TOKEN}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    answer = await reader.read()
    writer.close()
    return answer


async def test_the_first_request_needs_no_import_once_serving(
    echo_settings: Settings, secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(eventloop.loaded_backends, "asyncio")
    real_import = eventloop.import_module
    descriptors_left = {"any": True}

    def import_module(name: str, *args: Any) -> Any:
        if not descriptors_left["any"]:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), name)
        return real_import(name, *args)

    monkeypatch.setattr(eventloop, "import_module", import_module)
    monkeypatch.setattr(slow_clients, "raise_open_file_limit", lambda: None)
    answers: list[bytes] = []

    async def on_ready(url: str) -> None:
        descriptors_left["any"] = False  # the burst took them all
        body = b'{"platform": "console", "user_id": "u", "text": "hi"}'
        answers.append(await raw_post(url, "/chat", body))
        raise asyncio.CancelledError  # stop serving

    async with await ChatService.open(echo_settings) as service:
        with pytest.raises(asyncio.CancelledError):
            await serve_app(create_app(service, secrets), bind_socket("127.0.0.1", 0), on_ready)
    [answer] = answers
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import resource

    limits = {"now": (64, 512)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits["now"])

    def setrlimit(which: int, value: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        limits["now"] = value

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    with caplog.at_level(logging.DEBUG, logger=slow_clients.__name__):
        slow_clients.raise_open_file_limit()
    assert limits["now"] == (512, 512)
    assert slow_clients.connection_cap() == 256  # half of it, now
    assert [r.getMessage() for r in caplog.records] == ["open descriptor limit: 512 (hard 512)"]


def test_a_limit_that_cannot_be_raised_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, resource.RLIM_INFINITY))

    def setrlimit(which: int, value: tuple[int, int]) -> None:
        raise AssertionError("an unlimited hard limit is no soft one")

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    slow_clients.raise_open_file_limit()
    assert slow_clients.connection_cap() == 128

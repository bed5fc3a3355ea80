"""Several processes at once, and what `atri serve` needs before its model loads: a second
worker on a port is refused at once, QQ's taken port and a bot's missing package are one
sentence said before the model loads, and said once."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from atri.config import Secrets, Settings
from atri.errors import ConfigError
from bot.qq import runner
from bot.serve import (
    MISSING_DISCORD,
    MISSING_NONEBOT,
    listen_for_qq,
    qq_adapter,
    serve,
    serve_adapters,
)
from model.server.app import bind_socket, create_app, run_worker, serving
from model.service import ChatService
from tests.bot.test_console import ENV, write_config

TAKEN = "another program is using that port"
NO_TOKEN = {k: v for k, v in ENV.items() if k != "ATRI_DISCORD_TOKEN"}


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Each time a service would open (load its model), recorded and refused."""
    opened: list[Settings] = []

    async def open_service(settings: Settings, *args: Any, **kwargs: Any) -> ChatService:
        opened.append(settings)
        raise AssertionError("the model loaded")

    monkeypatch.setattr(ChatService, "open", open_service)
    return opened


def listening_port() -> socket.socket:
    """A socket listening on a free loopback port: another program holding it."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


# --- Two `atri worker` on one port ---


async def test_a_second_worker_on_a_port_is_refused_before_its_model_loads(
    echo_settings: Settings, model_loads: list[Settings]
) -> None:
    # Before: both bound (SO_REUSEADDR, neither listening yet), both loaded the model, and
    # the second died at uvicorn's listen minutes later in a 70-line traceback.
    first = bind_socket("127.0.0.1", 0)  # the first worker, still loading its model
    try:
        echo_settings.worker.host = "127.0.0.1"
        echo_settings.worker.port = first.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"{TAKEN}; choose another \[worker\] port"):
            await run_worker(echo_settings, Secrets())
    finally:
        first.close()
    assert model_loads == []


async def test_a_client_that_connects_while_the_model_loads_waits_for_its_answer(
    echo_service: ChatService,
) -> None:
    # Before: the socket was only bound while the model loaded, and a connection refused.
    sock = bind_socket("127.0.0.1", 0)
    with socket.create_connection(sock.getsockname()[:2], timeout=10) as early:
        early.sendall(b"GET /v1/models HTTP/1.1\r\nHost: atri\r\nConnection: close\r\n\r\n")
        async with serving(create_app(echo_service, Secrets()), sock):  # uvicorn takes it
            answer = await asyncio.to_thread(early.recv, 1024)
    assert answer.startswith(b"HTTP/1.1 ")


# --- QQ's port at `atri serve` ---


def qq_settings(settings: Settings, port: int) -> Settings:
    settings.qq.enabled = True
    settings.qq.host = "127.0.0.1"
    settings.qq.port = port
    return settings


async def test_serve_with_qq_on_a_taken_port_says_so_before_the_model_loads(
    echo_settings: Settings, model_loads: list[Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with listening_port() as taken:
        settings = qq_settings(echo_settings, taken.getsockname()[1])
        with pytest.raises(ConfigError, match=rf"{TAKEN}; choose another \[qq\] port\."):
            await serve(settings, Secrets(), Console(file=io.StringIO()))
    assert model_loads == []
    assert "QQ stopped" not in caplog.text  # the CLI prints it: once


async def test_qq_holds_its_port_but_refuses_connections_while_the_model_loads(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is QQ's before the model loads (another program binding it is refused);
    the OneBot implementation connecting meanwhile is refused at once and retries (session
    76: a handshake left waiting was given up, then taken as the account once it served)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        settings = qq_settings(echo_settings, free.getsockname()[1])
    during_load: list[str] = []

    async def open_service(*args: Any, **kwargs: Any) -> ChatService:
        try:
            socket.create_connection(("127.0.0.1", settings.qq.port), timeout=5).close()
            during_load.append("connected")
        except ConnectionRefusedError:
            during_load.append("refused")
        with socket.socket() as other, contextlib.suppress(OSError):
            other.bind(("127.0.0.1", settings.qq.port))
            during_load.append("bound by another")
        raise ConfigError("stopped here, the model not loaded")

    monkeypatch.setattr(ChatService, "open", open_service)
    with pytest.raises(ConfigError, match="stopped here"):
        await serve(settings, Secrets(), Console(file=io.StringIO()))
    assert during_load == ["refused"]
    # Closed again by `serve`: the port is free for the next start.
    listen_for_qq(settings).close()  # type: ignore[union-attr]


async def asgi_answering(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A stand-in for NoneBot's app: its lifespan, and "QQ" to any request."""
    if scope["type"] == "lifespan":
        with contextlib.suppress(asyncio.CancelledError):  # the test's end cancels it
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"QQ"})


async def test_qq_serves_on_the_early_socket_and_a_start_again_listens_anew(
    echo_service: ChatService, echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        settings = qq_settings(echo_settings, free.getsockname()[1])
    starts: list[int] = []

    def start_nonebot(*args: Any) -> Callable[..., Awaitable[None]]:
        starts.append(len(starts))
        if len(starts) == 1:  # NoneBot failed to start once: QQ is started again
            raise RuntimeError("NoneBot could not load its plugin")
        return asgi_answering

    monkeypatch.setattr(runner, "start_nonebot", start_nonebot)
    early = listen_for_qq(settings)
    assert early is not None
    adapters = {"QQ": qq_adapter(echo_service, settings, Secrets(), None, early)}
    task = asyncio.create_task(serve_adapters(adapters, retry_first=0.01))
    try:
        assert (await answered(settings.qq.port)).endswith(b"QQ")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert starts == [0, 1]
    assert early.fileno() == -1  # the early socket went with the failed start


async def answered(port: int) -> bytes:
    """A GET's answer on `port`, asked again while a socket about to close reset it."""
    for _ in range(250):
        try:
            return await asyncio.to_thread(http_get, port)
        except OSError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"nothing answered on port {port}")


def http_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: qq\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(1024):
            answer += chunk
    if not answer:
        raise ConnectionResetError("closed unanswered")
    return answer


# --- What is said when adapters stop ---


async def test_a_lone_adapter_that_stops_is_raised_not_logged_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refused() -> None:
        raise ConfigError("QQ cannot start.")

    with pytest.raises(ConfigError, match="QQ cannot start"):
        await serve_adapters({"QQ": refused}, retry_first=0.01)
    assert "QQ stopped" not in caplog.text


async def test_of_adapters_that_all_stop_the_last_is_raised_and_the_others_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    discord_stopped = asyncio.Event()

    async def discord() -> None:
        discord_stopped.set()
        raise ConfigError("Discord refused the token.")

    async def qq() -> None:
        await discord_stopped.wait()
        await asyncio.sleep(0.05)  # QQ serves a while on its own
        raise ConfigError("QQ cannot start.")

    with pytest.raises(ConfigError, match="QQ cannot start"):
        await serve_adapters({"Discord": discord, "QQ": qq}, retry_first=0.01)
    said = [record.getMessage() for record in caplog.records]
    assert said == ["Discord stopped: Discord refused the token."]


# --- The CLI: each sentence once, before the model loads ---

# Runs `atri` with the modules named in HIDDEN not found, as where they are not installed.
HIDING_RUNNER = """
import importlib.abc, sys

HIDDEN = set(sys.argv[1].split(","))


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
sys.argv = ["atri", *sys.argv[2:]]
from atri.__main__ import main

main()
"""


def atri_serve(
    tmp_path: Path, extra: str = "", hidden: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path, extra=extra)
    return subprocess.run(
        [sys.executable, "-c", HIDING_RUNNER, hidden, "--config", str(config), "serve"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,  # before the fix, QQ without NoneBot was started again for ever
        cwd=tmp_path,
        env={**NO_TOKEN, **(env or {})},
    )


def said_once_before_the_model(
    result: subprocess.CompletedProcess[str], sentence: str, status: int = 1
) -> None:
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == status, output
    assert output.count(sentence) == 1, output
    assert "Traceback" not in output
    assert "memory database" not in output  # the service never opened its memory


def test_a_discord_token_without_discord_py_is_one_sentence(tmp_path: Path) -> None:
    result = atri_serve(tmp_path, hidden="discord", env={"ATRI_DISCORD_TOKEN": "x.y.z"})
    said_once_before_the_model(result, MISSING_DISCORD)
    assert not (tmp_path / "chat.sqlite3").exists()


def test_qq_without_nonebot_is_one_sentence(tmp_path: Path) -> None:
    result = atri_serve(tmp_path, "[qq]\nenabled = true", hidden="nonebot")
    said_once_before_the_model(result, MISSING_NONEBOT)
    assert not (tmp_path / "chat.sqlite3").exists()


def test_qq_on_a_taken_port_is_one_sentence_said_once(tmp_path: Path) -> None:
    with listening_port() as taken:
        port = taken.getsockname()[1]
        extra = f'[qq]\nenabled = true\nhost = "127.0.0.1"\nport = {port}'
        result = atri_serve(tmp_path, extra)
    said_once_before_the_model(result, f"Cannot listen on 127.0.0.1:{port}: {TAKEN}", status=2)
    assert "QQ stopped" not in result.stderr
    assert not (tmp_path / "chat.sqlite3").exists()

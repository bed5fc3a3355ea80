"""A worker that takes requests but never answers them (hung, not down), as the console
chat of `atri serve` meets it through bot/relay.py."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.console import Console
from starlette.types import ASGIApp, Receive, Scope, Send

import bot.console
import bot.relay
from atri.config import Secrets, Settings
from bot.console import run_console
from bot.relay import HttpWorker, WorkerUnreachable
from bot.serve import reach_for_console
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

REPO = Path(__file__).resolve().parents[2]


class Hang:
    """The worker's real app, but requests for `paths` are taken and left unanswered
    until `release` is set (then 503), as a worker whose loop is stuck leaves them."""

    def __init__(self, app: ASGIApp, paths: set[str] | None) -> None:
        self.app = app
        self.paths = paths
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.paths is None or scope["path"] in self.paths):
            self.arrived.set()
            await self.release.wait()
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


@asynccontextmanager
async def hung_worker(
    settings: Settings, paths: set[str] | None
) -> AsyncIterator[tuple[str, Hang]]:
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    async with await ChatService.open(settings) as service:
        hang = Hang(create_app(service, secrets), paths)
        try:
            async with serving(hang, bind_socket("127.0.0.1", 0)) as url:  # type: ignore[arg-type]
                try:
                    yield url, hang
                finally:
                    hang.release.set()  # uvicorn waits for open requests as it stops
        finally:
            hang.release.set()


async def test_a_chat_the_worker_never_answers_says_so_and_the_chat_goes_on(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The spinner says how long it has waited, and the log sentence says the worker
    took the message and did not answer (it said "Cannot reach … is `atri worker`
    running there?" of a worker that had just answered /status)."""
    monkeypatch.setattr(bot.relay, "TIMEOUT_MARGIN_SECONDS", 0.5)
    monkeypatch.setattr(bot.console, "STILL_THINKING_SECONDS", 0.3, raising=False)
    monkeypatch.setattr(bot.console, "TICK_SECONDS", 0.1, raising=False)
    echo_settings.worker.request_timeout_seconds = 1.0
    async with hung_worker(echo_settings, {"/chat"}) as (url, _):
        worker = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(
            worker, Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
        ) as remote:
            await reach_for_console(remote)  # the worker answers its quick routes
            monkeypatch.setattr("sys.stdin", io.StringIO("hi\n"))
            screen = io.StringIO()
            console = Console(file=screen, force_terminal=True, width=200)
            with caplog.at_level(logging.ERROR, logger="bot.relay"):
                started = time.monotonic()
                await run_console(remote, console, "you", "ATRI", "hello", [])
                waited = time.monotonic() - started
    shown = screen.getvalue()
    assert "ATRI is still thinking… 1 s so far (Ctrl-C quits)" in shown
    assert worker.error_reply in shown and "Bye!" in shown
    said = " ".join(r.getMessage() for r in caplog.records)
    assert f"The worker at {url} took the request for /chat but did not answer" in said
    assert "within 1.5 s" in said and "Cannot reach" not in said
    assert 1.4 < waited < 5  # request_timeout_seconds + the margin, not more


async def test_a_worker_hung_at_start_is_told_within_seconds_not_after_the_chat_deadline(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/status waits for no model: the console's start-up probe of a hung worker waited
    request_timeout_seconds + 10 s (130 s by default) in silence, then said it could not
    be reached."""
    monkeypatch.setattr(bot.relay, "QUICK_TIMEOUT_SECONDS", 0.5, raising=False)
    echo_settings.worker.request_timeout_seconds = 10.0
    async with hung_worker(echo_settings, None) as (url, hang):
        worker = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(worker, Secrets()) as remote:
            started = time.monotonic()
            with pytest.raises(WorkerUnreachable) as raised:
                await reach_for_console(remote)
            waited = time.monotonic() - started
        assert hang.arrived.is_set()
    assert waited < 5
    assert str(raised.value) == (
        f"The worker at {url} took the request for /status but did not answer it "
        "within 0.5 s; it may still be loading its model (a worker listens from its start "
        "and answers once loaded), at work on it (a reload), or hung: see its log before "
        "restarting `atri worker`."
    )


async def test_ctrl_c_while_a_hung_worker_is_awaited_ends_the_console_at_once(
    echo_settings: Settings, tmp_path: Path
) -> None:
    """`atri serve` as a person runs it: Ctrl-C during the wait quits (130), no traceback,
    without waiting out the relay's deadline."""
    echo_settings.worker.request_timeout_seconds = 60.0
    async with hung_worker(echo_settings, {"/chat"}) as (url, hang):
        config = tmp_path / "config.toml"
        config.write_text(
            f'[worker]\nurl = "{url}"\nrequest_timeout_seconds = 60\n'
            '[memory]\npath = "chat.sqlite3"\n',
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "ATRI_ADMIN_TOKEN": ADMIN_TOKEN,
            "COLUMNS": "500",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        chat = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "atri",
            "--config",
            str(config),
            "serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path,
            env=env,
        )
        try:
            assert chat.stdin is not None
            chat.stdin.write(b"hello\n")
            await chat.stdin.drain()
            await asyncio.wait_for(hang.arrived.wait(), 60)  # her answer is being awaited
            chat.send_signal(signal.SIGINT)
            started = time.monotonic()
            out, err = await asyncio.wait_for(chat.communicate(), 15)
            waited = time.monotonic() - started
        finally:
            if chat.returncode is None:
                chat.kill()
                await chat.wait()
    assert chat.returncode == 130, err.decode()
    assert waited < 10
    assert b"Traceback" not in err and b"Traceback" not in out

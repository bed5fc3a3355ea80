"""Session 72: `atri serve` stopping with several doors, and Discord's lines in the log.

- With QQ and Discord both on, a stop ended `serve_adapters` as soon as Discord had
  stopped (a cancelled `asyncio.gather` ends with its first child): the service closed
  under QQ's graceful shutdown, and uvicorn's tasks were cancelled with two tracebacks.
- A stop while a QQ reply was being generated waited for it, up to `[worker]
  request_timeout_seconds`, though its OneBot connection was closed at once.
- A Discord outage mid-session logged discord.py's traceback at ERROR at each of its
  reconnect tries; at start-up the same outage was one WARNING line.
- Without -v nothing said that Discord had connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect

import atri.cli
from atri.config import Secrets, Settings
from bot.discord.adapter import run_discord
from bot.serve import serve_adapters
from model.service import ChatService
from tests.bot.discord.conftest import TOKEN as DISCORD_TOKEN
from tests.bot.discord.conftest import fake_discord_gateway
from tests.bot.discord.fake_discord import FakeDiscord
from tests.bot.qq.events import GROUP_ID, SELF_ID
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    group_message,
    next_action,
    private_message,
    serve_config,
    serve_process,
    serving,
)


async def test_a_stop_waits_for_each_adapter_not_the_first_to_end() -> None:
    """QQ's graceful part (uvicorn and NoneBot shutting down) outlasts Discord's stop."""
    qq_served = asyncio.Event()
    qq_shut_down = asyncio.Event()

    async def qq() -> None:
        qq_served.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # NoneBot's shutdown hooks
            qq_shut_down.set()
            raise

    async def discord_client() -> None:
        await asyncio.Event().wait()  # closes at once when cancelled

    task = asyncio.create_task(serve_adapters({"QQ": qq, "Discord": discord_client}))
    await asyncio.wait_for(qq_served.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert qq_shut_down.is_set()  # the service closes only after it


async def test_a_discord_outage_mid_session_is_one_warning_per_try(
    monkeypatch: pytest.MonkeyPatch,
    echo_service: ChatService,
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with _on_fake_discord(monkeypatch, echo_service, echo_settings) as fake:
        # Discord gone: it stops listening and drops the gateway connection (aiohttp
        # waits for the open one), then discord.py tries to connect again, and fails.
        gone = asyncio.create_task(fake.close())
        await asyncio.sleep(0.1)
        assert fake._connection is not None
        await fake._connection.ws.close(code=1001)
        await gone
        for _ in range(1000):
            if any("reconnect" in r.getMessage() for r in caplog.records) or any(
                "connects again" in r.getMessage() for r in caplog.records
            ):
                break
            await asyncio.sleep(0.01)
    tries = [r for r in caplog.records if r.name == "discord.client"]
    said = [r for r in tries if "connects again" in r.getMessage()]
    assert said, [r.getMessage() for r in tries]
    for record in said:
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert record.getMessage().startswith(
            "Discord failed (Discord cannot be reached (ClientConnectorError): check this "
            "machine's network connection to discord.com.); discord.py connects again in "
        )
    assert not [r for r in tries if r.levelno >= logging.ERROR or r.exc_info]


async def test_discord_connected_is_said_without_verbose(
    monkeypatch: pytest.MonkeyPatch,
    echo_service: ChatService,
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cli = atri.cli
    names = ["", *cli.TOLD_LOGGERS, *cli.PER_RUN_LOGGERS, "transformers", "httpx", "peft"]
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        # The levels `atri` sets without -v (its handler aside: pytest's captures instead;
        # basicConfig leaves a root with handlers alone, so its level is set here).
        cli.main(config=None, verbose=False, show_version=False)
        logging.getLogger().setLevel(logging.WARNING)
        await _connect_to_discord(monkeypatch, echo_service, echo_settings, caplog)
        # The adapter's other INFO lines stay hidden without -v.
        assert not logging.getLogger("bot.discord.adapter").isEnabledFor(logging.INFO)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    (ready,) = [r for r in caplog.records if "ATRI is on Discord as" in r.getMessage()]
    assert ready.levelno == logging.INFO


async def _connect_to_discord(
    monkeypatch: pytest.MonkeyPatch,
    service: ChatService,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _on_fake_discord(monkeypatch, service, settings):
        for _ in range(500):
            if "ATRI is on Discord as" in caplog.text:
                break
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _on_fake_discord(
    monkeypatch: pytest.MonkeyPatch, service: ChatService, settings: Settings
) -> AsyncIterator[FakeDiscord]:
    """`run_discord` connected to the fake Discord; stopped at the end."""
    secrets = Secrets(discord_token=SecretStr(DISCORD_TOKEN))
    async with fake_discord_gateway(monkeypatch) as fake:
        task = asyncio.create_task(run_discord(service, settings, secrets))
        try:
            await fake.wait_connected()
            yield fake
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


# `atri serve` with an echo engine that never finishes a reply: says "GENERATING" when
# the reply is under way, then holds it for ever.
HELD_SERVE = """
import asyncio, runpy, sys
from model.engines.echo import EchoEngine

async def held(self, batch, gen, limits=None):
    print("GENERATING", file=sys.stderr, flush=True)
    await asyncio.Event().wait()

EchoEngine.generate = held
sys.argv = ["atri", *sys.argv[1:]]
runpy.run_module("atri", run_name="__main__")
"""
REQUEST_TIMEOUT_SECONDS = 60


async def test_a_stop_during_a_qq_generation_does_not_wait_for_it(tmp_path: Path) -> None:
    worker = f"[worker]\nrequest_timeout_seconds = {REQUEST_TIMEOUT_SECONDS}"
    config, port = serve_config(tmp_path, extra=worker)
    launcher = tmp_path / "held_serve.py"
    launcher.write_text(HELD_SERVE, encoding="utf-8")
    log = tmp_path / "serve.log"
    with serve_process(tmp_path, config, port, launcher) as proc:
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        async with connect(url, additional_headers=HEADERS) as ws:
            answering = asyncio.create_task(_answer_questions(ws))
            event = group_message(
                [
                    {"type": "at", "data": {"qq": SELF_ID}},
                    {"type": "text", "data": {"text": " 在吗"}},
                ]
            )
            assert event["group_id"] == GROUP_ID
            await ws.send(json.dumps(event))
            await _wait_for_line(log, "GENERATING")
            stopped_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # Ended at once, not at the reply's deadline.
            await asyncio.to_thread(proc.wait, REQUEST_TIMEOUT_SECONDS / 3)
            answering.cancel()
        assert time.monotonic() - stopped_at < REQUEST_TIMEOUT_SECONDS / 3
    said = log.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, said
    assert "Traceback" not in said and "busy reply" not in said, said
    assert "QQ stopping: 1 reply(ies) still being written are dropped" in said, said
    with sqlite3.connect(tmp_path / "memory.sqlite3") as db:  # nothing of it is stored
        (stored,) = db.execute("SELECT count(*) FROM messages").fetchone()
    assert stored == 0


async def _answer_questions(ws: Any) -> None:
    """What NoneBot asks the account at connect, answered as NapCat does."""
    while True:
        action = await next_action(ws)
        pytest.fail(f"nothing was to be sent before the stop: {action}")


async def _wait_for_line(log: Path, line: str) -> None:
    for _ in range(300):
        if line in log.read_text(encoding="utf-8", errors="replace"):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{line!r} never came:\n{log.read_text()}")


async def test_message_events_of_a_broken_shape_are_one_warning_each(tmp_path: Path) -> None:
    """Each fell through NoneBot's message models to its base Event, whose command parsing
    then raised "Event has no message!": a ~50-line traceback each."""
    broken = [
        group_message(f"{HER} 你好") | {"message": None},
        group_message(f"{HER} 你好") | {"message": 12345},
        group_message(f"{HER} 你好") | {"user_id": "abc"},
        private_message("你好") | {"message_id": "abc"},
    ]
    with serving(tmp_path) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            for event in broken:
                await ws.send(json.dumps(event))
            await ws.send(json.dumps(group_message(f"{HER} 还在吗")))
            action = await next_action(ws)  # the next message is answered on the same link
            assert "还在吗" in json.dumps(action["params"]["message"], ensure_ascii=False)
    said = (tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert said.count("sent an event ATRI cannot read (") == len(broken), said
    assert "Traceback" not in said and "Event has no message" not in said, said

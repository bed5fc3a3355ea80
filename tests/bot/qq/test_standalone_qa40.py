"""The QQ plugin in someone's own NoneBot project, beside a separate `atri worker`: her
error line is in the language the worker answers in, as under `atri serve`.

The worker runs here (the real service behind the real HTTP app); NoneBot runs in a
subprocess (nonebug owns this process's NoneBot), reached over a real WebSocket as
NapCat reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from atri.config import Secrets, Settings
from model.character.persona import Persona, configured_card_path, load_persona, reply_lines
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_runner import REPO, STANDALONE_RUN
from tests.bot.qq.test_serve_e2e import _free_port, answer, next_action, private_message
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})

START_TIMEOUT_SECONDS = 60.0


@contextlib.asynccontextmanager
async def standalone_nonebot(tmp_path: Path, worker_url: str, **env: str) -> AsyncIterator[str]:
    """A plain NoneBot project that loads the plugin, pointed at `worker_url`; its OneBot
    WebSocket URL once it listens (NoneBot's start-up hooks have run by then)."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    environment |= {"PYTHONPATH": str(REPO), "ATRI_WORKER_URL": worker_url}
    environment |= {"ATRI_ADMIN_TOKEN": ADMIN_TOKEN, **env}
    log = tmp_path / "nonebot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", STANDALONE_RUN, str(port)],
            cwd=tmp_path,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            # Waited for here without blocking: the worker answers from this event loop.
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        yield f"ws://127.0.0.1:{port}/onebot/v11/ws"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def lines_said(
    tmp_path: Path, worker: Settings, texts: tuple[str, ...] = ("你好",), **env: str
) -> list[str]:
    """What the plugin answers each private message of `texts` with once its worker
    stops answering."""
    said: list[str] = []
    async with (
        await ChatService.open(worker) as service,
        contextlib.AsyncExitStack() as project,
    ):
        async with serving(create_app(service, SECRETS), bind_socket("127.0.0.1", 0)) as url:
            bot = await project.enter_async_context(standalone_nonebot(tmp_path, url, **env))
        # The worker is gone: every chat gets her error line.
        async with connect(bot, additional_headers={"X-Self-ID": SELF_ID}) as ws:
            for text in texts:
                await ws.send(json.dumps(private_message(text)))
                action = await next_action(ws)
                await answer(ws, action, {"message_id": 1})
                segments = action["params"]["message"]
                said.append("".join(s["data"]["text"] for s in segments if s["type"] == "text"))
    return said


async def error_line_said(tmp_path: Path, worker: Settings, **env: str) -> str:
    """What the plugin answers a private message with once its worker stops answering."""
    return (await lines_said(tmp_path, worker, **env))[0]


@pytest.fixture
def english_worker(echo_settings: Settings) -> Settings:
    echo_settings.persona.language = "en"
    echo_settings.reload.enabled = False
    return echo_settings


async def test_her_error_line_is_in_the_language_the_worker_answers_in(
    tmp_path: Path, english_worker: Settings
) -> None:
    """A worker serving her card in English: the plugin said her Chinese line (its
    default) whenever the worker could not answer, beside the worker's English replies."""
    card = load_persona(configured_card_path(english_worker))
    english = reply_lines(card.in_language("en"), Settings()).error
    assert english != Settings().worker.error_reply
    assert await error_line_said(tmp_path, english_worker) == english


async def test_a_worker_serving_another_character_gets_her_generic_line_with_its_name(
    tmp_path: Path, english_worker: Settings
) -> None:
    """Never ATRI's line for someone else: the plugin knows no card but ATRI's."""
    card = tmp_path / "eileen.toml"
    card.write_text('name = "Eileen"\nlanguage = "en"\n', encoding="utf-8")
    english_worker.persona.card = str(card)
    generic = reply_lines(Persona(name="Eileen", language="en"), Settings()).error
    assert "Eileen" in generic
    assert await error_line_said(tmp_path, english_worker) == generic


async def test_a_line_of_the_project_s_own_stays(tmp_path: Path, english_worker: Settings) -> None:
    said = await error_line_said(tmp_path, english_worker, ATRI_ERROR_REPLY="出错了，稍后再试")
    assert said == "出错了，稍后再试"

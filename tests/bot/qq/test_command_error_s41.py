"""A QQ command that fails answers with her error line as the worker speaks it, as a chat
does: beside an English worker, the plugin said its own Chinese line to `/atri status`.

The worker runs here (the real service behind the real HTTP app); the plugin runs in a
plain NoneBot project in a subprocess, reached over a real WebSocket as NapCat reaches it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from websockets.asyncio.client import connect

from atri.config import Settings
from model.character.persona import configured_card_path, load_persona, reply_lines
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import answer, next_action, private_message
from tests.bot.qq.test_standalone_qa40 import SECRETS, english_worker, standalone_nonebot

__all__ = ["english_worker"]  # the fixture, used here


async def lines_said(tmp_path: Path, worker: Settings, **env: str) -> list[str]:
    """What the plugin answers a chat and a command with once its worker stops answering."""
    said: list[str] = []
    async with (
        await ChatService.open(worker) as service,
        contextlib.AsyncExitStack() as project,
    ):
        async with serving(create_app(service, SECRETS), bind_socket("127.0.0.1", 0)) as url:
            bot = await project.enter_async_context(standalone_nonebot(tmp_path, url, **env))
        async with connect(bot, additional_headers={"X-Self-ID": SELF_ID}) as ws:
            for text in ("你好", "/atri status"):
                await ws.send(json.dumps(private_message(text)))
                action = await next_action(ws)
                await answer(ws, action, {"message_id": 1})
                segments = action["params"]["message"]
                said.append("".join(s["data"]["text"] for s in segments if s["type"] == "text"))
    return said


async def test_a_failed_command_says_the_worker_s_line(
    tmp_path: Path, english_worker: Settings
) -> None:
    card = load_persona(configured_card_path(english_worker))
    english = reply_lines(card.in_language("en"), Settings()).error
    assert english != Settings().worker.error_reply
    assert await lines_said(tmp_path, english_worker) == [english, english]


async def test_a_failed_command_says_the_project_s_own_line(
    tmp_path: Path, english_worker: Settings
) -> None:
    own = "出错了，稍后再试"
    assert await lines_said(tmp_path, english_worker, ATRI_ERROR_REPLY=own) == [own, own]

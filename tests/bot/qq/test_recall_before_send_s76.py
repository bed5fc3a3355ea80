"""Session 76, over a real WebSocket to `atri serve` (the test playing NapCat; memory is
the server's SQLite file), and through the real discord.py client and the fake Discord:

- A message recalled while her reply to it waited its turn to be posted (the group's
  earlier reply still going out) was answered all the same, her reply quoting it and
  repeating the phone number it held; a reply to another member written with a recalled
  room line in its prompt went out repeating that line. Now neither goes out, the
  recalled message leaves no room line, and the other member's question stays one.
  On Discord, a message deleted while her reply waited for the channel's turn, likewise.
- `atri serve` stopped while she was writing a reply to a group message: the message was
  gone, nothing of it stored. It now stays a room line, as one whose reply was dropped
  unsent does.
- QQ's port accepted connections while the model loaded: NapCat's handshakes went
  unanswered until they timed out, and NoneBot then took one NapCat had given up on as
  the account, refusing the live one. Connections are now refused until it serves.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.sync.client import connect as connect_now

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import fake_discord_gateway, running_client
from tests.bot.discord.fake_discord import ADMIN_ID, CHANNEL_ID, MEMBER_ID, is_message_to
from tests.bot.discord.test_chat import say
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_messages_e2e import stop_quickly
from tests.bot.qq.test_quiet_heard_s54 import connected
from tests.bot.qq.test_serve_e2e import (
    ACTION_TIMEOUT_SECONDS,
    HEADERS,
    answer,
    group_message,
    group_recall,
    next_action,
    serve_config,
    serve_process,
    serving,
)

PHONE = "13800138000"
CARD = "6222020200001234567"
ASKER, TELLER, RECALLER, OTHER, ADMIN, CONTROL = 5001, 5002, 5003, 5004, 5009, 5005


def at_her(words: str, user_id: int) -> dict[str, Any]:
    return group_message(
        [{"type": "at", "data": {"qq": SELF_ID}}, {"type": "text", "data": {"text": f" {words}"}}],
        user_id=user_id,
    )


def said(action: dict[str, Any]) -> str:
    return "".join(seg["data"].get("text", "") for seg in action["params"]["message"]).strip()


def quoted(action: dict[str, Any]) -> str:
    """The id of the message a send quotes ("" for none)."""
    for seg in action["params"]["message"]:
        if seg["type"] == "reply":
            return str(seg["data"]["id"])
    return ""


def live_room_lines(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT user_id, content FROM room_lines WHERE archived = 0 ORDER BY id"
        ).fetchall()
    return [(str(user), str(text)) for user, text in rows]


def live_exchanges(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE archived = 0").fetchone()[0])


async def until(check: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never came true")


async def sends_until_answered(ws: ClientConnection, event: dict[str, Any]) -> list[str]:
    """Every send, confirmed, up to the one quoting `event`; what each said."""
    texts: list[str] = []
    while True:
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 70_000 + len(texts)})
        texts.append(said(action))
        if quoted(action) == str(event["message_id"]):
            return texts


async def test_a_recall_stops_the_replies_waiting_to_be_posted(tmp_path: Path) -> None:
    database = tmp_path / "memory.sqlite3"
    with serving(tmp_path, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(at_her("先问一句", ASKER)))
            first = await next_action(ws)  # not confirmed yet: the group's turn is held
            secret = group_message([{"type": "text", "data": {"text": f"我的卡号{CARD}"}}], TELLER)
            await ws.send(json.dumps(secret))
            await until(lambda: len(live_room_lines(database)) == 1)
            phone = at_her(f"我的手机号{PHONE}", RECALLER)
            await ws.send(json.dumps(phone))
            await ws.send(json.dumps(at_her("大家刚才说了什么", OTHER)))
            # Both written (the echo repeats the prompt, the room line in it), both waiting.
            await until(lambda: live_exchanges(database) == 6)
            await ws.send(json.dumps(group_recall(phone, RECALLER, RECALLER)))
            await ws.send(json.dumps(group_recall(secret, TELLER, ADMIN)))
            await until(lambda: live_exchanges(database) <= 4 and not live_room_lines(database))
            await answer(ws, first, {"message_id": 69_999})
            control = at_her("对照", CONTROL)
            await ws.send(json.dumps(control))
            texts = await sends_until_answered(ws, control)
    assert len(texts) == 1 and texts[0].endswith("对照"), texts  # the control's reply alone
    assert not any(PHONE in text or CARD in text for text in texts)
    # The other member's question stays a room line; nothing of the recalled ones does.
    assert live_room_lines(database) == [(str(OTHER), "大家刚才说了什么")]
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "was recalled: 1 part(s) of her reply to it not sent" in log
    assert "they repeat a message recalled there" in log


async def test_a_message_deleted_while_her_reply_waits_on_discord_is_not_answered(
    monkeypatch: pytest.MonkeyPatch, echo_settings: Settings
) -> None:
    async with (
        fake_discord_gateway(monkeypatch) as fake,
        await ChatService.open(echo_settings) as service,
        running_client(fake, service, echo_settings),
    ):
        fake.message_seconds = 1.5  # a long reply's parts hold the channel a while
        await say(fake, MEMBER_ID, "长" * 3000)
        # Said once the long reply holds the channel (its first part posted, the second
        # to come), so her reply to it waits: sent at once, it was sometimes answered
        # first on a loaded machine.
        await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=1)
        deleted = await say(fake, ADMIN_ID, f"我的手机号{PHONE}")
        await asyncio.sleep(0.3)  # answered meanwhile (the echo), her reply waiting
        where = {"channel_id": str(CHANNEL_ID), "guild_id": deleted["guild_id"]}
        await fake.dispatch("MESSAGE_DELETE", {"id": deleted["id"], **where})
        await say(fake, MEMBER_ID, "对照")
        await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
        await asyncio.sleep(1.0)  # a reply to the deleted message would be posted by now
        posts = fake.calls_matching(is_message_to(CHANNEL_ID))
    texts = [str(call.body["content"]) for call in posts]
    assert texts[-1] == "亚托莉听到了：对照", texts
    assert not any(PHONE in text for text in texts), texts


# `atri serve` whose echo writes slowly what holds SLOW, saying so in a file.
SLOW = "慢慢想"
SLOW_SERVE = f"""
import asyncio, pathlib, runpy, sys
from model.engines.echo import EchoEngine

quick = EchoEngine.generate

async def generate(self, batch, gen, limits=None):
    if "{SLOW}" in str(batch):
        pathlib.Path("writing").write_text("")
        await asyncio.sleep(60)
    return await quick(self, batch, gen, limits)

EchoEngine.generate = generate
sys.argv = ["atri", *sys.argv[1:]]
runpy.run_module("atri", run_name="__main__")
"""


async def test_a_question_still_being_answered_at_stop_stays_a_room_line(tmp_path: Path) -> None:
    database = tmp_path / "memory.sqlite3"
    config, port = serve_config(tmp_path, extra_qq="room_context = true")
    launcher = tmp_path / "slow_serve.py"
    launcher.write_text(SLOW_SERVE, encoding="utf-8")
    with serve_process(tmp_path, config, port, launcher) as proc:
        url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(at_her(f"{SLOW}这个问题", ASKER)))
            await until(lambda: (tmp_path / "writing").exists())
            await stop_quickly(proc, tmp_path / "serve.log")
    assert live_room_lines(database) == [(str(ASKER), f"{SLOW}这个问题")]
    assert live_exchanges(database) == 0
    assert "their messages in groups stay room lines" in (tmp_path / "serve.log").read_text()


# `atri serve` whose model takes LOAD_SECONDS to load, saying when it begins.
LOAD_SECONDS = 4.0
SLOW_LOAD = f"""
import asyncio, pathlib, runpy, sys
from model.service import ChatService

quick = ChatService.open.__func__

async def open_slowly(cls, *args, **options):
    pathlib.Path("loading").write_text("")
    await asyncio.sleep({LOAD_SECONDS})
    return await quick(cls, *args, **options)

ChatService.open = classmethod(open_slowly)
sys.argv = ["atri", *sys.argv[1:]]
runpy.run_module("atri", run_name="__main__")
"""


def connect_while_loading(root: Path, url: str, outcome: list[str]) -> None:
    """Once the model begins loading, one connection as NapCat makes it: how it ended."""
    for _ in range(600):
        if (root / "loading").exists():
            break
        threading.Event().wait(0.05)
    try:
        with connect_now(url, additional_headers=HEADERS, open_timeout=2):
            outcome.append("connected")
    except ConnectionRefusedError:
        outcome.append("refused")
    except TimeoutError:
        outcome.append("no answer")


async def test_qq_refuses_connections_until_it_serves(tmp_path: Path) -> None:
    config, port = serve_config(tmp_path)
    url = f"ws://127.0.0.1:{port}/onebot/v11/ws"
    launcher = tmp_path / "slow_load.py"
    launcher.write_text(SLOW_LOAD, encoding="utf-8")
    outcome: list[str] = []
    trying = threading.Thread(target=connect_while_loading, args=(tmp_path, url, outcome))
    trying.start()
    try:
        with serve_process(tmp_path, config, port, launcher):
            await asyncio.to_thread(trying.join, ACTION_TIMEOUT_SECONDS)
            assert outcome == ["refused"]  # at once: NapCat tries again later
            async with connect(url, additional_headers=HEADERS) as ws:
                await connected(ws)
                event = at_her("在吗", ASKER)
                await ws.send(json.dumps(event))
                assert await sends_until_answered(ws, event) == ["亚托莉听到了：在吗"]
    finally:
        trying.join()
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "connected again while its earlier connection is still open" not in log

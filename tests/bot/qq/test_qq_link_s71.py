"""Session 71: the OneBot link under a flaky network. Over a real WebSocket to `atri
serve` (echo engine, its log as an operator sees it, without --verbose), the test
playing NapCat:

- a frame that is not JSON, or an event NoneBot cannot read, is one warning and the
  connection stays (it ended NoneBot's receive loop: the next message was lost);
- a reconnect refused because the account's earlier connection is still open is told
  once, with why, and a stale connection (a network blink: no close frame, no pongs) is
  closed within 20 s, not uvicorn's 40;
- what became of a reply the connection cut is shown;
- an adapter whose code does not import stops with one sentence, not retried for ever.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from atri.errors import UserError
from bot.serve import supervise
from tests.bot.qq import test_serve_e2e as serve_e2e
from tests.bot.qq.test_quiet_heard_s54 import HER, connected
from tests.bot.qq.test_serve_e2e import HEADERS, SELF_ID, group_message, next_action


def log_of(root: Path) -> str:
    return (root / "serve.log").read_text(encoding="utf-8", errors="replace")


async def log_says(root: Path, words: str) -> None:
    for _ in range(100):
        if words in log_of(root):
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"the log never said {words!r}:\n{log_of(root)}")


async def send_asked(ws: ClientConnection) -> str:
    """The text of her next group send (the connect-time questions answered first)."""
    action = await next_action(ws)
    assert action["action"] in {"send_msg", "send_group_msg"}, action
    return json.dumps(action["params"]["message"], ensure_ascii=False)


async def test_bad_frames_are_one_warning_each_and_the_connection_stays(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("bad-frames")
    with serve_e2e.serving(root) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps({"self_id": int(SELF_ID), "post_type": "weird"}))
            await ws.send("not json at all")
            await ws.send(json.dumps(group_message(f"{HER} 还在吗")))
            assert "还在吗" in await send_asked(ws)  # the same connection, still read
    log = log_of(root)
    assert log.count("sent a frame that is not JSON; ignored") == 1, log
    assert log.count("sent an event ATRI cannot read (time: Field required); ignored") == 1, log
    assert "Traceback" not in log and "Failed to parse event" not in log, log


async def test_a_stale_connection_refuses_a_reconnect_told_once_and_is_closed_soon(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("stale-link")
    with serve_e2e.serving(root) as url:
        stale = await connect(url, additional_headers=HEADERS, ping_interval=None)
        try:
            await connected(stale)
            # A network blink: nothing more is read, so no pong answers uvicorn's pings.
            stale.transport.pause_reading()
            blinked = time.monotonic()
            for _ in range(3):  # NapCat reconnecting
                with pytest.raises(InvalidStatus):
                    async with connect(url, additional_headers=HEADERS):
                        pass
            while True:
                assert time.monotonic() - blinked < 30, log_of(root)
                try:
                    async with connect(url, additional_headers=HEADERS) as ws:
                        await connected(ws)
                        break
                except InvalidStatus:
                    await asyncio.sleep(1)
        finally:
            stale.transport.abort()
    log = log_of(root)
    told = f"account {SELF_ID} connected again while its earlier connection is still open"
    assert log.count(told) == 1, log
    assert "There's already a bot" not in log, log


async def test_the_outcome_of_a_cut_reply_is_shown_without_verbose(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("cut-shown")
    with serve_e2e.serving(root, extra_qq="resend_within_seconds = 30") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            await ws.send(json.dumps(group_message(f"{HER} 明天见")))
            await send_asked(ws)  # asked, never answered: the connection drops
        # Back only once the cut is seen, so the rest waits for the account's return.
        await log_says(root, "cut off")
        async with connect(url, additional_headers=HEADERS) as ws:
            await connected(ws)
            assert "明天见" in await send_asked(ws)  # the rest, on the new connection
    log = log_of(root)
    assert f"QQ account {SELF_ID} is back: sending the rest of a cut reply in group " in log, log
    # The cut said in words, with how long the rest waits, not as NetWorkError's repr.
    waits = f"account {SELF_ID}'s connection dropped; the rest (1 part(s)) waits up to 30 s"
    assert waits in log, log
    assert "NetWorkError" not in log, log


async def test_an_adapter_whose_code_does_not_import_stops_with_one_sentence() -> None:
    starts: list[int] = []

    async def start() -> None:
        starts.append(1)
        import bot.qq.no_such_module  # type: ignore[import-not-found]  # noqa: F401

    error = await asyncio.wait_for(supervise("QQ", start, retry_first=0.01), 5)
    assert isinstance(error, UserError)
    assert str(error).startswith("QQ could not start: No module named 'bot.qq.no_such_module'")
    assert starts == [1]

"""The OneBot access token never reaches the log (session 74).

A OneBot implementation may send the token in its URL (`/onebot/v11/ws?access_token=…`),
and under `atri -v serve` uvicorn logged every request line with it at INFO: a user who
pasted the log into an issue gave the token away. Every `access_token` value (a refused
one too) and `Authorization` header is hidden in the lines ATRI's log handler writes,
and in NoneBot's. A wrong token is refused in front of NoneBot, compared in constant time
(NoneBot compares with `!=`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import uvicorn
from nonebot.log import logger
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bot.qq.runner import guard_onebot_link
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import HEADERS, TOKEN, serve_config, serve_process

WRONG_TOKEN = "an-attackers-guess-7b1f"
# `atri -v serve`: the log at INFO, where uvicorn writes each request line.
VERBOSE_SERVE = """
import runpy, sys
sys.argv = ["atri", "-v", *sys.argv[1:]]
runpy.run_module("atri", run_name="__main__")
"""


async def _connect_and_close(url: str, headers: dict[str, str]) -> int:
    """101 when the connection opened, else the status it was refused with."""
    try:
        async with connect(url, additional_headers=headers):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"{}", headers=HEADERS, method="POST")
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=5).close()


async def test_a_token_in_the_url_is_hidden_in_the_verbose_serve_log(tmp_path: Path) -> None:
    config, port = serve_config(tmp_path)
    launcher = tmp_path / "verbose_serve.py"
    launcher.write_text(VERBOSE_SERVE, encoding="utf-8")
    ws = f"ws://127.0.0.1:{port}/onebot/v11/ws"
    with serve_process(tmp_path, config, port, launcher):  # asserts TOKEN not in the log
        in_url = f"{ws}?access_token={TOKEN}"
        assert await _connect_and_close(in_url, HEADERS) == 101
        assert await _connect_and_close(in_url, {"X-Self-ID": SELF_ID}) == 403
        guessed = {"X-Self-ID": SELF_ID, "Authorization": f"Bearer {WRONG_TOKEN}"}
        assert await _connect_and_close(f"{ws}?access_token={WRONG_TOKEN}", guessed) == 403
        http = f"http://127.0.0.1:{port}/onebot/v11/?x=1&access_token={TOKEN}"
        await asyncio.to_thread(_post, http)
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert TOKEN not in log
    assert WRONG_TOKEN not in log
    # The request lines are still there, each value hidden, and NoneBot's warning too.
    assert '"WebSocket /onebot/v11/ws?access_token=…" [accepted]' in log
    assert log.count('"WebSocket /onebot/v11/ws?access_token=…" 403') == 2
    assert '"POST /onebot/v11/?x=1&access_token=… HTTP/1.1"' in log
    assert "OneBot V11 | Authorization Header is invalid" in log


def test_nonebots_lines_hide_tokens_and_authorization(quiet_log: io.StringIO) -> None:
    logger.warning(f"Loaded Config: {{'onebot_access_token': '{TOKEN}', 'port': 8080}}")
    logger.warning(f"request headers: {{'authorization': 'Bearer {WRONG_TOKEN}'}}")
    logger.warning("OneBot V11 | Authorization Header is invalid")
    written = quiet_log.getvalue()
    assert TOKEN not in written and WRONG_TOKEN not in written
    assert "'onebot_access_token': '…', 'port': 8080" in written
    assert "'authorization': 'Bearer …'" in written
    assert "OneBot V11 | Authorization Header is invalid" in written


@contextlib.asynccontextmanager
async def _guarded_server(reached: list[str]) -> AsyncIterator[str]:
    """`guard_onebot_link` in front of an app standing for NoneBot's (it records the
    Authorization header of each connection it gets, and accepts it), served by
    uvicorn on a real socket; its WebSocket URL."""

    async def nonebot_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await receive()  # until the client closes

    adapter = SimpleNamespace(onebot_config=SimpleNamespace(onebot_access_token=TOKEN))
    adapter.connections = {}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(guard_onebot_link(nonebot_app, adapter), log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/onebot/v11/ws"
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def test_a_wrong_token_is_refused_before_nonebot_compares_it() -> None:
    reached: list[str] = []
    async with _guarded_server(reached) as url:
        wrong = {"X-Self-ID": SELF_ID, "Authorization": f"Bearer {TOKEN[:-1]}x"}
        assert await _connect_and_close(url, wrong) == 403
        assert await _connect_and_close(url, {"X-Self-ID": SELF_ID}) == 403
        assert reached == []  # NoneBot's `!=` never saw them
        assert await _connect_and_close(url, HEADERS) == 101
    assert reached == [f"Bearer {TOKEN}"]

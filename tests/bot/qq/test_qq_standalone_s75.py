"""Only the lines that can hold the OneBot token are searched for it (session 75).

`hide_secrets_in_logs` puts its filter on ATRI's log handlers, so while QQ runs it sees
every record of every logger (the worker's, httpx's, the model's): its regex went over
each. A line naming neither `access_token` nor `Authorization` now skips the regex; a
line of any logger that names one is still hidden.

(The same session moved the plugin's standalone bootstrap, `nb run` without `atri serve`,
into `bot/qq/standalone.py`, unchanged: the standalone tests, `test_standalone_*.py`,
`test_plugin_keys_s67.py` and `test_env_keys_s51.py`, load the plugin that way.)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import socket
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn

from bot.qq import runner
from bot.qq.runner import SECRETS_HIDDEN, hide_secrets_in_logs

TOKEN = "onebot-token-5c0ffee"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
WORKER_LINE = "worker: a request without its Authorization header was refused (401)"


class RegexSpy:
    """`SECRET_IN_LOG` as `without_secrets` uses it, keeping each text it searched."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.searched: list[str] = []

    def sub(self, replacement: str, text: str) -> str:
        self.searched.append(text)
        return self.pattern.sub(replacement, text)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> RegexSpy:
    spying = RegexSpy(runner.SECRET_IN_LOG)
    monkeypatch.setattr(runner, "SECRET_IN_LOG", spying)
    return spying


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What a handler on the root logger writes at INFO (as under `atri -v serve`) once
    QQ has hidden the secrets in the logs; every logger as it was afterwards."""
    root = logging.getLogger()
    uvicorns = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    levels = {each: each.level for each in [root, *uvicorns]}
    # uvicorn's loggers as a fresh `atri serve` has them (an earlier test's uvicorn may
    # have configured them): their records reach the root's handlers.
    for each in uvicorns:
        for key, value in {"handlers": [], "propagate": True, "disabled": False}.items():
            monkeypatch.setattr(each, key, value)
        each.setLevel(logging.NOTSET)
    root.setLevel(logging.INFO)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    hide_secrets_in_logs()
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for each, level in levels.items():
            each.setLevel(level)
            each.removeFilter(SECRETS_HIDDEN)


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def _uvicorn() -> AsyncIterator[str]:
    """uvicorn serving on a real socket, logging as `atri serve` has it (no log config
    of its own: its records reach the root logger's handlers); its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_ok, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


def _get(url: str) -> None:
    urllib.request.urlopen(url, timeout=5).close()


async def test_only_lines_naming_a_secret_are_searched_and_each_is_hidden(
    spy: RegexSpy, written: io.StringIO
) -> None:
    async with _uvicorn() as base:
        await asyncio.to_thread(_get, f"{base}/onebot/v11/?x=1&access_token={TOKEN}")
    logging.getLogger("atri.worker").warning(WORKER_LINE)
    logging.getLogger("websockets.client").warning("> Authorization: Bearer %s", TOKEN)
    log = written.getvalue()
    assert TOKEN not in log
    assert '"GET /onebot/v11/?x=1&access_token=… HTTP/1.1" 200' in log
    assert WORKER_LINE in log and "> Authorization: Bearer …" in log
    # Each handler filters (pytest's own too): no line without a secret's key searched.
    assert spy.searched and all(
        "access_token" in text or "Authorization" in text for text in spy.searched
    ), spy.searched


async def test_a_line_naming_no_secret_skips_the_regex(spy: RegexSpy, written: io.StringIO) -> None:
    async with _uvicorn() as base:
        await asyncio.to_thread(_get, f"{base}/status")
    assert '"GET /status HTTP/1.1" 200' in written.getvalue()
    assert spy.searched == []


def test_the_key_is_found_whatever_its_case() -> None:
    assert runner.without_secrets(f"AUTHORIZATION: Bearer {TOKEN}") == "AUTHORIZATION: Bearer …"
    assert runner.without_secrets(f"?Access_Token={TOKEN}&x=1") == "?Access_Token=…&x=1"

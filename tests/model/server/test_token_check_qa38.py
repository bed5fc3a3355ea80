"""A wrong or missing ATRI_ADMIN_TOKEN is said when a bot starts (QA 38), not first when an
admin runs /reload or a reset: `HttpWorker.check_release` also asks the worker's
token-only route, `GET /auth`, and logs one sentence saying what to change."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings, WorkerSettings
from bot.relay import HttpWorker, TokenRefused
from model.protocol import NO_TOKEN_SET, WRONG_TOKEN, ScopeRef
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

REPO = Path(__file__).resolve().parents[3]


def token(value: str | None) -> Secrets:
    return Secrets(admin_token=None if value is None else SecretStr(value))


def at(settings: Settings, url: str) -> WorkerSettings:
    return settings.worker.model_copy(update={"url": url})


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "bot.relay"]


@pytest.mark.parametrize(
    ("worker_token", "bot_token", "said"),
    [
        ("s3cret", "s3cret", None),
        ("s3cret", None, "This bot has no ATRI_ADMIN_TOKEN set and the worker at {url} "),
        ("s3cret", "wrong", "The worker at {url} refused this bot's ATRI_ADMIN_TOKEN: "),
        (None, "s3cret", "The worker at {url} has no ATRI_ADMIN_TOKEN set, so it refuses "),
        (None, None, "The worker at {url} has no ATRI_ADMIN_TOKEN set, so it refuses "),
    ],
    ids=["same", "bot-has-none", "bot-has-another", "worker-has-none", "neither-has-one"],
)
async def test_a_token_the_worker_refuses_is_one_error_line_at_start_up(
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    worker_token: str | None,
    bot_token: str | None,
    said: str | None,
) -> None:
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, token(worker_token)), bind_socket("127.0.0.1", 0)) as url,
        HttpWorker(at(echo_settings, url), token(bot_token)) as bot,
    ):
        with caplog.at_level(logging.INFO, logger="bot.relay"):
            await bot.check_release()  # what `atri serve` and the QQ plugin run at start
        logged = errors(caplog)
        if said is None:
            assert logged == []
            return
        assert len(logged) == 1 and logged[0].levelno == logging.ERROR
        assert logged[0].exc_info is None  # one sentence, no traceback
        assert logged[0].getMessage().startswith(said.format(url=url))
        assert "every chat gets her error line and every admin command fails" in logged[0].message
        # An admin's reset later says the same, not a bare HTTP error.
        with pytest.raises(TokenRefused) as refused:
            await bot.reset(ScopeRef(platform="p", user_id="u"))
        assert str(refused.value) == logged[0].getMessage()


async def test_the_token_only_route_says_why_it_refused(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        for worker_token, code in (("s3cret", WRONG_TOKEN), (None, NO_TOKEN_SET)):
            app = create_app(service, token(worker_token))
            async with (
                serving(app, bind_socket("127.0.0.1", 0)) as url,
                httpx.AsyncClient(base_url=url) as client,
            ):
                refused = await client.get("/auth", headers={"Authorization": "Bearer nope"})
                assert refused.status_code == 401 and refused.json()["code"] == code
                good = await client.get("/auth", headers={"Authorization": "Bearer s3cret"})
                assert good.status_code == (200 if worker_token else 401)
                if worker_token:
                    assert good.json() == {"ok": True}


def test_a_bot_with_another_token_hears_it_from_a_real_atri_worker(
    tmp_path: Path, echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """`atri worker` in its own process, started with ATRI_ADMIN_TOKEN as a user would."""
    import asyncio

    config = tmp_path / "config.toml"
    config.write_text('[model]\nengine = "echo"\n[worker]\nport = 0\n', encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "300", "PYTHONPATH": str(REPO)}
    env["ATRI_ADMIN_TOKEN"] = "the-workers"
    worker = subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "worker"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert worker.stdout is not None
        seen = ""
        for line in worker.stdout:
            seen += line
            if "listening on" in line:
                break
        match = re.search(r"(http://127\.0\.0\.1:\d+)", seen)
        assert match, seen

        async def start(bot_token: str) -> None:
            async with HttpWorker(at(echo_settings, match[1]), token(bot_token)) as bot:
                await bot.check_release()

        with caplog.at_level(logging.INFO, logger="bot.relay"):
            asyncio.run(start("the-workers"))
            assert errors(caplog) == []
            asyncio.run(start("an-old-one"))
        (logged,) = errors(caplog)
        assert "refused this bot's ATRI_ADMIN_TOKEN" in logged.getMessage()
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=20)
        finally:
            worker.kill()

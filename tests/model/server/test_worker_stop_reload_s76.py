"""`atri worker` stopped while a reply was still being written went on with its reload
job for the whole wait (up to [worker] request_timeout_seconds + 5 s): a version staged
meanwhile went live, "Now serving" logged in a worker already stopping. The job now
stops as the stop begins: the version being staged is abandoned, and the reply in
flight is finished by the live version.

Real tiny model, real scheduled job, real uvicorn server; only the reply (held open) and
the new version's smoke test (slowed, as on a busy worker) are made to take their time."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from atri.config import Secrets, Settings
from model.protocol import ChatRequest, Reply
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.adapters.test_stop_during_reload_s76 import switches_after, wait_for
from tests.model.conftest import V1, V2, MakeVersion
from tests.model.server.conftest import ADMIN_TOKEN

# How long the new version's smoke test takes: without the fix it ends, and the version
# goes live, while the stopping worker still waits for the reply held open.
SLOW_SMOKE_SECONDS = 3.0
# How long the job gets, once its staging ended, to say what became of the version.
VERDICT_SECONDS = 10.0


def held_replies(service: ChatService, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Each /chat waits for `release` before it is written; `arrived` once one waits."""
    arrived, release = asyncio.Event(), asyncio.Event()
    real_chat = service.chat

    async def held_chat(request: ChatRequest) -> Reply:
        arrived.set()
        await release.wait()
        return await real_chat(request)

    monkeypatch.setattr(service, "chat", held_chat)
    return arrived, release


def slowed_smoke_tests(service: ChatService) -> tuple[asyncio.Event, asyncio.Event]:
    """The smoke test of a version being staged takes SLOW_SMOKE_SECONDS; `reached` as it
    begins, `ended` once it finished or was cancelled."""
    engine: Any = service.engine
    real_smoke_test = engine.smoke_test
    reached, ended = asyncio.Event(), asyncio.Event()

    async def slow_smoke_test(*args: Any) -> str:
        reached.set()
        try:
            await asyncio.sleep(SLOW_SMOKE_SECONDS)
            result: str = await real_smoke_test(*args)
            return result
        finally:
            ended.set()

    engine.smoke_test = slow_smoke_test
    return reached, ended


async def verdict_on(caplog: pytest.LogCaptureFixture) -> str:
    """The job's last word on the version it staged: went live, or abandoned."""
    deadline = time.monotonic() + VERDICT_SECONDS
    while time.monotonic() < deadline:
        for record in caplog.records:
            said = record.getMessage()
            if ("Now serving" in said and V2 in said) or "does not go live" in said:
                return said
        await asyncio.sleep(0.05)
    raise AssertionError("the job said nothing of the version it staged")


async def test_a_stopping_worker_takes_no_new_version_while_it_finishes_a_reply(
    reload_settings: Settings,
    make_version: MakeVersion,
    secrets: Secrets,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="model.adapters.reload")
    reload_settings.reload.enabled = True  # every second
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert service.reloader.live == V1
        arrived, release = held_replies(service, monkeypatch)
        reached, ended = slowed_smoke_tests(service)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            server = AsyncExitStack()
            url = await server.enter_async_context(
                serving(create_app(service, secrets), bind_socket("127.0.0.1", 0))
            )
            chat = {"platform": "test", "user_id": "u1", "text": "hi"}
            replying = asyncio.create_task(client.post(f"{url}/chat", json=chat))
            await wait_for(arrived, "the reply")
            make_version(V2, seed=2)
            await wait_for(reached, "the new version's smoke test")

            began = time.time()
            stopping = asyncio.create_task(server.aclose())  # as Ctrl-C: should_exit
            await wait_for(ended, "the end of the smoke test")
            said = await verdict_on(caplog)
            assert not stopping.done()  # still waiting for the reply held open
            release.set()
            answer = await replying
            await stopping

        assert "does not go live" in said, said
        assert not switches_after(caplog, began)
        assert service.reloader.live == V1
        assert answer.status_code == 200
        assert answer.json()["adapter_version"] == V1  # the reply in flight, by the live one

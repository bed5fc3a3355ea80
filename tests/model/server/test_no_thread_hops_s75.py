"""Session 75 (a profile of the worker under 50-200 users on the echo engine): the admin
token check of every bot request and the /v1 key check were plain `def` dependencies,
which FastAPI runs in its thread pool: a thread hand-off per request for a header
comparison, ~17% of the worker's own time per /chat. They now run on the loop."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.dependencies import utils as fastapi_dependencies

from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN


async def test_a_bot_message_and_a_v1_chat_hand_nothing_to_a_thread(
    echo_worker: tuple[ChatService, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = echo_worker
    handed: list[str] = []
    to_a_thread = fastapi_dependencies.run_in_threadpool

    async def counted(call: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(call, "__qualname__", repr(call)))
        return await to_a_thread(call, *args, **kwargs)

    monkeypatch.setattr(fastapi_dependencies, "run_in_threadpool", counted)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        bot = await client.post(
            "/chat", headers=admin, json={"platform": "qq", "user_id": "1", "text": "你好"}
        )
        v1 = await client.post(
            "/v1/chat/completions",
            headers=admin,
            json={"model": "atri", "messages": [{"role": "user", "content": "你好"}]},
        )
    assert (bot.status_code, v1.status_code) == (200, 200), (bot.text, v1.text)
    assert handed == []

"""`POST /purge` after an upgrade: the copy the upgrade kept (`….schema12.bak`) still
holds the purged person's words. `atri memory purge` said so; the route answered only
the counts, and a purge through the worker (an admin's HTTP client, a bot's relay) left
the admin believing the words gone. The answer names the copy, and the worker logs it."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.atri.test_memory_purge_upgrade_copy_s53 import schema_12_database


async def test_a_purge_over_http_names_the_upgrade_copy(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    database = echo_settings.path(echo_settings.memory.path)
    schema_12_database(database)
    secrets = Secrets(admin_token=SecretStr("t"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t"}) as client,
    ):
        copy = Path(f"{database}.schema12.bak")
        assert copy.is_file()  # the open upgraded the file and kept this copy
        with caplog.at_level(logging.WARNING, logger="atri"):
            answer = await client.post("/purge", json={"platform": "qq", "user_id": "1"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["count"] == 1
        assert body["not_deleted_from"].startswith(f"Not from {copy}: the copy kept when")
        assert b"my phone is 555" in copy.read_bytes()  # what the sentence warns of
        assert any(str(copy) in r.getMessage() for r in caplog.records), caplog.text

        copy.unlink()  # checked and deleted: the next purge has nothing to add
        answer = await client.post("/purge", json={"platform": "qq", "user_id": "2"})
        assert answer.json() == {"count": 1, "room_lines": 0, "not_deleted_from": ""}

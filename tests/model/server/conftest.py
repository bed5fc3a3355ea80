"""Fixtures for the HTTP transport: an echo worker served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def secrets() -> Secrets:
    return Secrets(admin_token=SecretStr(ADMIN_TOKEN))


@pytest.fixture
async def echo_worker(
    echo_settings: Settings, secrets: Secrets
) -> AsyncIterator[tuple[ChatService, str]]:
    """An open echo ChatService and the base URL of its HTTP app."""
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        yield service, url

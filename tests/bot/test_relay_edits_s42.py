"""Two edits of one message over the relay, each its own HTTP request, reaching the
worker newest first: the newest stays (the real worker app over real HTTP, the bots'
real relay client, a real SQLite file)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})

ROOM = "discord:chan:6/5"
HEARD = ChatRequest(
    platform="discord",
    user_id="7",
    text="我的电话是 13800000000",
    channel_id="5",
    guild_id="6",
    addressed=False,
    request_id="m1",
)


@pytest.fixture
async def echo_worker(echo_settings: Settings) -> AsyncIterator[tuple[ChatService, str]]:
    """An open echo ChatService on a real SQLite file and the URL of its HTTP app."""
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, SECRETS), bind_socket("127.0.0.1", 0)) as url,
    ):
        yield service, url


def edit_of(text: str, edited_at: float) -> ChatRequest:
    return HEARD.model_copy(update={"text": text, "edited_at": edited_at}).as_edit()


async def line_texts(service: ChatService) -> list[str]:
    return [line.content for line in await service.memory.room.all_lines(ROOM)]


async def test_an_older_edit_sent_last_over_the_relay_changes_nothing(
    echo_worker: tuple[ChatService, str], echo_settings: Settings
) -> None:
    service, url = echo_worker
    relay = echo_settings.worker.model_copy(update={"url": url})
    now = time.time()
    async with HttpWorker(relay, SECRETS) as remote:
        await remote.chat(HEARD)
        assert (await remote.chat(edit_of("电话私信你", now - 1))).status == "heard"
        assert (await remote.chat(edit_of("电话是 13800000001", now - 2))).status == "heard"
    assert await line_texts(service) == ["电话私信你"]


async def test_an_edit_posted_without_its_time_is_kept_as_it_arrives(
    echo_worker: tuple[ChatService, str],
) -> None:
    """A caller that sends no `edited_at` and no protocol header (curl, a script): the
    worker dates the edit by its own clock, as it arrives, and keeps it."""
    service, url = echo_worker
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(headers=bearer) as http:
        for body in (
            HEARD.model_dump(exclude={"edited_at"}),
            {**HEARD.model_dump(exclude={"edited_at"}), "text": "改过了", "edited": True},
        ):
            async with http.post(f"{url}/chat", json=body) as answer:
                assert answer.status == 200 and (await answer.json())["status"] == "heard"
    assert await line_texts(service) == ["改过了"]

"""A message edited twice, whose edits reach the worker newest first: Discord's edit time
travels with each, and the older edit arriving last changes nothing (the real discord.py
client against the fake Discord, over the relay to the real worker app)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.protocol import ChatRequest, Reply
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import MEMBER_ID, FakeDiscord
from tests.bot.discord.test_room import live_lines
from tests.model.server.conftest import ADMIN_TOKEN


class HandledEdits:
    """The relay, telling each edit once the worker has answered it."""

    def __init__(self, worker: HttpWorker) -> None:
        self.worker = worker
        self.edits: asyncio.Queue[ChatRequest] = asyncio.Queue()

    async def chat(self, request: ChatRequest) -> Reply:
        reply = await self.worker.chat(request)
        if request.edited:
            self.edits.put_nowait(request)
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self.worker, name)


def edit(sent: dict[str, object], content: str, ago: timedelta) -> dict[str, object]:
    return sent | {"content": content, "edited_timestamp": (datetime.now(UTC) - ago).isoformat()}


async def test_an_older_edit_arriving_last_leaves_the_room_line_as_the_newest(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    discord_settings.discord.room_context = True
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    async with serving(create_app(echo_service, secrets), bind_socket("127.0.0.1", 0)) as url:
        relay = discord_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(relay, secrets) as remote:
            worker = HandledEdits(remote)
            async with running_client(fake_discord, worker, discord_settings):  # type: ignore[arg-type]
                sent = await fake_discord.send_message(MEMBER_ID, "我的电话是 13800000000")
                assert await live_lines(echo_service, ["我的电话是 13800000000"])
                newer = edit(sent, "电话私信你", timedelta(seconds=1))
                await fake_discord.dispatch("MESSAGE_UPDATE", newer)
                first = await asyncio.wait_for(worker.edits.get(), 5)
                older = edit(sent, "电话是 13800000001", timedelta(seconds=2))
                await fake_discord.dispatch("MESSAGE_UPDATE", older)
                second = await asyncio.wait_for(worker.edits.get(), 5)
                assert second.edited_at < first.edited_at
                assert await live_lines(echo_service, ["电话私信你"]) == ["电话私信你"]

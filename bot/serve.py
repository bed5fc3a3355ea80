"""`atri serve`: the worker and every configured adapter in one process and event loop.

With no Discord token and QQ disabled, that is the console chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from rich.console import Console

from atri.config import Secrets, Settings
from bot.console import PLATFORM as CONSOLE_PLATFORM
from bot.console import console_user_id, run_console
from model.persona import configured_persona
from model.protocol import Worker
from model.service import ChatService

log = logging.getLogger(__name__)


async def serve(settings: Settings, secrets: Secrets, console: Console) -> None:
    if settings.worker.url:  # a separate `atri worker` holds the model and the memory
        from model.http_client import HttpWorker

        async with HttpWorker(settings, secrets) as remote:
            await run_adapters(remote, settings, secrets, console)
        return
    with console.status("Waking ATRI up (loading the model)…", spinner="dots"):
        service = await ChatService.open(settings)
    async with service:
        await run_adapters(service, settings, secrets, console)


async def run_adapters(
    worker: Worker, settings: Settings, secrets: Secrets, console: Console
) -> None:
    if secrets.discord_token is None and not settings.qq.enabled:
        await console_chat(worker, settings, console)
        return
    adapters: list[Coroutine[Any, Any, None]] = []
    if settings.qq.enabled:
        from bot.qq.runner import run_qq

        adapters.append(run_qq(worker, settings, secrets))
    if secrets.discord_token is not None:
        from bot.discord_adapter import run_discord

        adapters.append(run_discord(worker, settings, secrets))
    await asyncio.gather(*adapters)


async def console_chat(worker: Worker, settings: Settings, console: Console) -> None:
    if isinstance(worker, ChatService):
        persona = worker.persona
        scope = worker.scope_for(CONSOLE_PLATFORM, console_user_id())
        history = [(m.role, m.content) for m in await worker.memory.history(scope)]
    else:  # a remote worker keeps the memory; the screen starts empty
        persona = configured_persona(settings)
        history = []
    user_name = settings.persona.user_name
    await run_console(
        worker,
        console,
        user_name=user_name,
        character_name=persona.name,
        greeting=persona.greeting_for(user_name),
        history=history,
    )

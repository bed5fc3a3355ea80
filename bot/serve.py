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
from bot.console import console_user_id, describe_worker, run_console
from model.protocol import ScopeRef, Worker
from model.service import ChatService

log = logging.getLogger(__name__)


async def serve(settings: Settings, secrets: Secrets, console: Console) -> None:
    if settings.worker.url:  # a separate `atri worker` holds the model and the memory
        from bot.relay import HttpWorker

        async with HttpWorker(settings.worker, secrets) as remote:
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
        await console_chat(worker, console)
        return
    adapters: list[Coroutine[Any, Any, None]] = []
    if settings.qq.enabled:
        from bot.qq.runner import run_qq

        adapters.append(run_qq(worker, settings, secrets))
    if secrets.discord_token is not None:
        from bot.discord.adapter import run_discord

        adapters.append(run_discord(worker, settings, secrets))
    await asyncio.gather(*adapters)


async def console_chat(worker: Worker, console: Console) -> None:
    """The console chat, on an in-process or a remote worker alike."""
    character = await worker.character()
    scope = ScopeRef(platform=CONSOLE_PLATFORM, user_id=console_user_id())
    history: list[tuple[str, str]] = [(m.role, m.content) for m in await worker.history(scope)]
    user_name = character.user_name
    await run_console(
        worker,
        console,
        user_name=user_name,
        character_name=character.name,
        greeting=character.greeting.replace("{{user}}", user_name).replace(
            "{{char}}", character.name
        ),
        history=history,
        about=describe_worker(await worker.status(), character),
    )

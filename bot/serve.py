"""`atri serve`: the worker and every configured adapter in one process and event loop.

With no Discord token and QQ disabled, that is the console chat.
"""

from __future__ import annotations

import logging

from rich.console import Console

from atri.config import Secrets, Settings
from bot.console import PLATFORM as CONSOLE_PLATFORM
from bot.console import console_user_id, run_console
from model.protocol import Worker
from model.service import ChatService

log = logging.getLogger(__name__)


async def serve(settings: Settings, secrets: Secrets, console: Console) -> None:
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
    raise NotImplementedError("Discord and QQ adapters are not built yet.")


async def console_chat(worker: Worker, settings: Settings, console: Console) -> None:
    assert isinstance(worker, ChatService)
    scope = worker.scope_for(CONSOLE_PLATFORM, console_user_id())
    history = [(m.role, m.content) for m in await worker.memory.history(scope)]
    user_name = settings.persona.user_name
    await run_console(
        worker,
        console,
        user_name=user_name,
        character_name=worker.persona.name,
        greeting=worker.persona.greeting_for(user_name),
        history=history,
    )

"""`atri serve`: the worker and every configured adapter in one process and event loop.

With no Discord token and QQ disabled, that is the console chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from atri.config import DEFAULT_CONFIG_NAME, DISCORD_TOKEN_ENV, Secrets, Settings
from atri.errors import UserError
from atri.terminal import spinner_for, waking_line
from bot.console import DEFAULT_COMMAND, console_user_id, describe_worker, run_console
from bot.console import PLATFORM as CONSOLE_PLATFORM
from bot.lines import use_card
from model.character.card_formats import fill_names
from model.character.persona import (
    Persona,
    canned_lines,
    configured_card_path,
    configured_persona,
    load_persona,
)
from model.protocol import MemoryUnavailable, ScopeRef, Worker
from model.service import ChatService

if TYPE_CHECKING:
    from bot.relay import HttpWorker

log = logging.getLogger(__name__)

# A failed adapter is started again after this long, doubling up to the maximum.
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0

Adapter = Callable[[], Awaitable[None]]


async def serve(settings: Settings, secrets: Secrets, console: Console) -> None:
    # Read once for all: the service's persona, the bots' own lines, QQ's nicknames.
    card = load_persona(configured_card_path(settings))
    use_card(settings, card)  # the bots speak of the configured character, in her language
    if settings.worker.url:  # a separate `atri worker` holds the model and the memory
        from bot.relay import HttpWorker

        said = canned_lines(settings, card).error
        async with HttpWorker(settings.worker, secrets, error_reply=said) as remote:
            if has_bots(settings, secrets):
                await remote.check_release()
            else:
                await reach_for_console(remote)
            await speak_as_the_worker(remote, settings, card)
            await run_adapters(remote, settings, secrets, console, card)
        return
    her = configured_persona(settings, card).name  # in the language she speaks
    waking = escape(waking_line(her, settings.model.engine))
    with console.status(waking, spinner=spinner_for(console)):
        service = await ChatService.open(settings, card=card)
    async with service:
        await run_adapters(service, settings, secrets, console, card)


# Said under the console's header by `atri serve`: an operator who meant to run a bot
# (a service whose token did not reach it) sees why, not only a chat ending at "Bye!".
NO_BOT_NOTE = (
    f"No bot is set up (no {DISCORD_TOKEN_ENV} in the environment, and [qq] enabled is "
    "false), so she chats here, in the console."
)


def has_bots(settings: Settings, secrets: Secrets) -> bool:
    """Whether Discord or QQ is configured; without either, `atri serve` is the console chat."""
    return secrets.discord_token is not None or settings.qq.enabled


async def speak_as_the_worker(remote: HttpWorker, settings: Settings, card: Persona) -> None:
    """Her error line in the language the worker answers in. The worker's own `[model]`
    and `[persona]` choose it, not this config's: a bot whose config leaves `[model]
    base` at the offline default chose English, and said an English error line beside
    the Chinese replies of a worker serving a Chinese model. A worker not up yet keeps
    this config's line until it first answers; one restarted in another language is
    learned from its next answer. See `bot.relay.speak_as_the_worker`, which the
    standalone QQ plugin uses too."""
    from bot.relay import speak_as_the_worker as speak

    await speak(remote, settings, card)


async def reach_for_console(remote: HttpWorker) -> None:
    """The console chat has nothing to do without its worker (bots start all the same and
    answer her error line until it is up): one that does not answer stops it here, with a
    sentence saying what to do, and no warning that chats get the error line meanwhile."""
    from bot.relay import WorkerDown, WorkerUnreachable

    try:
        await remote.status()
    except WorkerDown as exc:
        raise WorkerUnreachable(
            f"The console chat needs the worker at {exc.url}, which does not answer "
            f"({exc.why}): start `atri worker` there first, or leave [worker] url empty to "
            "run the model in this process."
        ) from None


async def run_adapters(
    worker: Worker,
    settings: Settings,
    secrets: Secrets,
    console: Console,
    card: Persona | None = None,
) -> None:
    if not has_bots(settings, secrets):
        await console_chat(
            worker, console, settings.config_file, settings.bot.command_name, NO_BOT_NOTE
        )
        return
    adapters: dict[str, Adapter] = {}
    if settings.qq.enabled:
        from bot.qq.runner import run_qq

        adapters["QQ"] = lambda: run_qq(worker, settings, secrets, card)
    if secrets.discord_token is not None:
        from bot.discord.adapter import run_discord

        adapters["Discord"] = lambda: run_discord(worker, settings, secrets, card)
    await serve_adapters(adapters)


async def serve_adapters(
    adapters: dict[str, Adapter], retry_first: float = RETRY_FIRST_SECONDS
) -> None:
    """Each adapter fails alone: the others keep serving. When every one has stopped for
    a reason the user must fix, the first such sentence is raised for the CLI to print."""
    results = await asyncio.gather(
        *(supervise(name, start, retry_first) for name, start in adapters.items())
    )
    errors = [error for error in results if error is not None]
    if errors and len(errors) == len(results):
        raise errors[0]


async def supervise(name: str, start: Adapter, retry_first: float) -> UserError | None:
    """Run one adapter; a user's error stops it with its sentence, anything else is
    retried with growing pauses."""
    delay = retry_first
    while True:
        try:
            await start()
            return None
        except UserError as exc:
            log.error("%s stopped: %s", name, exc)
            return exc
        except Exception as exc:
            log.warning(
                "%s failed (%s); starting it again in %.0f s",
                name,
                exc or exc.__class__.__name__,
                delay,
                exc_info=not isinstance(exc, ConnectionError),
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)


def config_line(config_file: str) -> str:
    """Which config the chat runs with: with none in the working folder it is quietly
    the built-in defaults (a database under ./data), which a newcomer should know."""
    if config_file:
        return f"config: {config_file}"
    # A pip install comes with no config.toml: say which command writes the commented one.
    return (
        f"config: built-in defaults (no {DEFAULT_CONFIG_NAME} in {Path.cwd()}; "
        "`atri config init` writes one)"
    )


async def console_chat(
    worker: Worker,
    console: Console,
    config_file: str | None = None,
    command: str = DEFAULT_COMMAND,
    why_here: str = "",
) -> None:
    """The console chat, on an in-process or a remote worker alike; `config_file` (""
    for the built-in defaults) is named under the header, then `why_here` (why `atri
    serve` chats here); `command` is `[bot] command_name`, which the console takes
    before its commands as the bots do."""
    character = await worker.character()
    scope = ScopeRef(platform=CONSOLE_PLATFORM, user_id=console_user_id())
    try:
        history: list[tuple[str, str]] = [(m.role, m.content) for m in await worker.history(scope)]
    except MemoryUnavailable as exc:
        # A damaged file where this conversation is read: she answers all the same, as
        # the worker does on the same file (each reply then says memory is unavailable);
        # the chat ended here before its greeting.
        console.print(str(exc), style="yellow", markup=False, highlight=False)
        history = []
    user_name = character.user_name
    about = describe_worker(await worker.status(), character)
    if config_file is not None:
        about = [*about[:1], config_line(config_file), *about[1:]]
    if why_here:
        about.append(why_here)
    await run_console(
        worker,
        console,
        user_name=user_name,
        character_name=character.name,
        # One of her greetings, the same for this conversation every time it starts.
        greeting=fill_names(
            character.greeting_of(f"{scope.platform}:{scope.user_id}"), character.name, user_name
        ),
        history=history,
        about=about,
        command=command,
    )

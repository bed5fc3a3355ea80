"""`atri serve`: the worker and every configured adapter in one process and event loop.

With no Discord token and QQ disabled, that is the console chat.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from atri.config import DEFAULT_CONFIG_NAME, DISCORD_TOKEN_ENV, Secrets, Settings
from atri.errors import UserError
from atri.terminal import spinning, waking_line
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
from model.worker_lock import one_worker_per_database

if TYPE_CHECKING:
    from bot.relay import HttpWorker

log = logging.getLogger(__name__)

# A failed adapter is started again after this long, doubling up to the maximum.
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0

Adapter = Callable[[], Awaitable[None]]

# Logged when Ctrl-C or SIGTERM (`systemctl stop`, `docker stop`) stops the bots. Their
# connections close at once, so a reply still being written could not be delivered: it is
# dropped (`bot.qq.runner.DroppedAtStop`; the Discord client does not wait for one), not
# waited for up to [worker] request_timeout_seconds, past systemd's and docker's timeouts.
STOPPING = (
    "Stopping: the bots disconnect, and the replies still being written are dropped (of "
    "one being sent, memory keeps the parts sent); Ctrl-C or SIGTERM again stops at once."
)


async def serve(settings: Settings, secrets: Secrets, console: Console) -> None:
    # Said before the model loads, not minutes later: a bot's package missing, QQ's port taken.
    require_bot_packages(settings, secrets)
    # Read once for all: the service's persona, the bots' own lines, QQ's nicknames.
    card = load_persona(configured_card_path(settings))
    use_card(settings, card)  # the bots speak of the configured character, in her language
    qq_socket = listen_for_qq(settings)
    try:
        await serve_checked(settings, secrets, console, card, qq_socket)
    finally:
        if qq_socket is not None:  # where QQ never took it over (the model failed to load)
            qq_socket.close()


async def serve_checked(
    settings: Settings,
    secrets: Secrets,
    console: Console,
    card: Persona,
    qq_socket: socket.socket | None,
) -> None:
    """`serve` once its checks passed: the worker (a remote one, or the model loaded
    here), then the bots, QQ on `qq_socket` where it is enabled."""
    if settings.worker.url:  # a separate `atri worker` holds the model and the memory
        from bot.relay import HttpWorker

        said = canned_lines(settings, card).error
        async with HttpWorker(settings.worker, secrets, error_reply=said) as remote:
            if has_bots(settings, secrets):
                await remote.check_release()
            else:
                await reach_for_console(remote)
            await speak_as_the_worker(remote, settings, card)
            await run_adapters(remote, settings, secrets, console, card, qq_socket)
        return
    her = configured_persona(settings, card).name  # in the language she speaks
    waking = escape(waking_line(her, settings.model.engine))
    with one_worker_per_database(settings):  # a second worker stops before its model loads
        with spinning(console, waking):
            service = await ChatService.open(settings, card=card)
        async with service:
            # The reload job stops as the bots begin to stop, not once they have: QQ's
            # replies still being sent, it switched to a new version meanwhile.
            await run_adapters(
                service,
                settings,
                secrets,
                console,
                card,
                qq_socket,
                on_stop=service.reloader.begin_stop,
            )


# What each bot needs beyond ATRI itself (pyproject's extras), checked before the model
# loads: without discord.py a traceback came after it loaded, and without NoneBot QQ was
# started again every few seconds, for ever.
MISSING_DISCORD = (
    f"{DISCORD_TOKEN_ENV} is set, but discord.py is not installed: pip install 'atri[discord]'."
)
MISSING_NONEBOT = "[qq] enabled = true needs NoneBot: pip install 'atri[qq]'."
NONEBOT_MODULES = ("nonebot", "nonebot.adapters.onebot.v11", "websockets")


def require_bot_packages(settings: Settings, secrets: Secrets) -> None:
    """One sentence for a configured bot whose package is not installed."""
    if secrets.discord_token is not None and not is_installed("discord"):
        raise UserError(MISSING_DISCORD)
    if settings.qq.enabled and not all(map(is_installed, NONEBOT_MODULES)):
        raise UserError(MISSING_NONEBOT)


def is_installed(module: str) -> bool:
    """Whether `module` can be imported, found without running it (its parent packages
    are imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent missing; ValueError: one set to None
        return False


def listen_for_qq(settings: Settings) -> socket.socket | None:
    """QQ's socket, bound to `[qq] host` and `port` when QQ is enabled: a taken port is
    one sentence before the model loads; it listens once NoneBot serves, so the OneBot
    implementation's connections are refused meanwhile, and it retries (`listen_socket`)."""
    if not settings.qq.enabled:
        return None
    from bot.qq.runner import listen_socket

    return listen_socket(settings.qq.host, settings.qq.port)


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
    qq_socket: socket.socket | None = None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """The bots configured, or the console chat without one. `qq_socket`: QQ's, made by
    `listen_for_qq` before the model loaded (None: QQ makes its own); `on_stop`: run as
    the bots begin to stop (`serve_adapters`)."""
    if not has_bots(settings, secrets):
        await console_chat(
            worker, console, settings.config_file, settings.bot.command_name, NO_BOT_NOTE
        )
        return
    adapters: dict[str, Adapter] = {}
    if settings.qq.enabled:
        adapters["QQ"] = qq_adapter(worker, settings, secrets, card, qq_socket)
    if secrets.discord_token is not None:
        from bot.discord.adapter import run_discord

        adapters["Discord"] = lambda: run_discord(worker, settings, secrets, card)
    await serve_adapters(adapters, on_stop=on_stop)


def qq_adapter(
    worker: Worker,
    settings: Settings,
    secrets: Secrets,
    card: Persona | None,
    sock: socket.socket | None,
) -> Adapter:
    """QQ, served first on `sock`; a start again after a failure listens anew (the
    socket goes with the run that failed)."""
    unused = [sock] if sock is not None else []

    async def start() -> None:
        from bot.qq.runner import run_qq

        await run_qq(worker, settings, secrets, card, unused.pop() if unused else None)

    return start


async def serve_adapters(
    adapters: dict[str, Adapter],
    retry_first: float = RETRY_FIRST_SECONDS,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Each adapter fails alone: the others keep serving, and its sentence is logged.
    When the last one stops for a reason the user must fix, as every other did, its
    sentence is raised for the CLI to print, and not logged as well. `on_stop` runs
    when `atri serve` is stopped, before the bots are (`_saying_when_stopped`)."""
    running = len(adapters)
    failed: list[UserError] = []

    async def serve_one(name: str, start: Adapter) -> None:
        nonlocal running
        error = await supervise(name, start, retry_first)
        running -= 1
        if error is None:
            return
        failed.append(error)
        if running or len(failed) < len(adapters):
            log.error("%s stopped: %s", name, error)

    await _saying_when_stopped(
        [asyncio.ensure_future(serve_one(name, start)) for name, start in adapters.items()],
        on_stop,
    )
    if failed and len(failed) == len(adapters):
        raise failed[-1]


async def _saying_when_stopped(
    bots: list[asyncio.Future[None]], on_stop: Callable[[], None] | None = None
) -> None:
    """Await the bots; when `atri serve` is stopped (`run_async` cancels it), log
    STOPPING and run `on_stop` first, then stop them and wait for each to end. Each task
    is waited for itself: a cancelled `asyncio.gather` ended with its first child
    (Discord, at once), and the service then closed under QQ's graceful shutdown."""
    try:
        # Cancelling this wait leaves the bots running, for the stop below.
        done, _ = await asyncio.wait(bots, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        log.warning(STOPPING)
        if on_stop is not None:
            on_stop()
        for bot in bots:
            bot.cancel()
        await asyncio.wait(bots)
        raise
    for bot in done:
        bot.result()  # a bug's exception, raised as the gather did


async def supervise(name: str, start: Adapter, retry_first: float) -> UserError | None:
    """Run one adapter; a user's error, or code that does not import, stops it and is
    returned; anything else is retried with growing pauses."""
    delay = retry_first
    while True:
        try:
            await start()
            return None
        except UserError as exc:
            return exc
        except ImportError as exc:
            # Code that does not import (a broken install, a file mid-edit) stays broken
            # for this process: NoneBot keeps a plugin that failed registered, and each
            # retry only said "Plugin already exists", for ever.
            return UserError(
                f"{name} could not start: {exc}; fix the installation and start `atri serve` again."
            )
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

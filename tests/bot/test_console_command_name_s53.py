"""The console takes its commands as the bots' lines show them too (`/atri reset`, after
`[bot] command_name`), and its help says so and names every command it takes (`/exit`
was taken but never named)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from atri.config import Secrets, Settings
from bot import serve
from bot.console import HELP, help_line, run_console
from model.service import ChatService
from tests.bot.test_console_greeting_s50 import Greeter
from tests.bot.test_console_repl import sent


async def console_says(service: ChatService, typed: str, **options: Any) -> str:
    pytest.MonkeyPatch().setattr("sys.stdin", io.StringIO(typed))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=500)
    await run_console(service, console, "you", "ATRI", "hello", [], **options)
    return screen.getvalue()


async def test_the_bots_form_of_a_command_is_the_consoles_command(
    echo_service: ChatService,
) -> None:
    shown = await console_says(
        echo_service, "hi\n/atri history\n/atri reset\n/atri\n/atri exit\nx\n"
    )
    assert "you: hi" in shown  # /atri history
    assert "Memory of this conversation is reset." in shown
    assert shown.count(HELP) == 2  # at the start, and for /atri alone
    assert "Bye!" in shown and await sent(echo_service) == []  # reset, then /atri exit left
    assert "Unknown command" not in shown


async def test_a_renamed_command_is_the_one_taken_and_named(echo_service: ChatService) -> None:
    shown = await console_says(echo_service, "/eileen reset\n/atri reset\n", command="eileen")
    assert "Memory of this conversation is reset." in shown
    assert f"Unknown command /atri. {help_line('eileen')}" in shown
    assert "each also after /eileen (/eileen reset)" in help_line("eileen")
    assert await sent(echo_service) == []  # neither reached her as a message


def test_help_names_every_command_the_console_takes() -> None:
    from bot.console import COMMANDS

    assert all(command in HELP for command in COMMANDS)


async def test_serve_hands_the_console_its_command_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: dict[str, Any] = {}

    async def run_console(worker: object, console: Console, **kwargs: Any) -> None:
        given.update(kwargs)

    monkeypatch.setattr(serve, "run_console", run_console)
    monkeypatch.setattr(serve, "describe_worker", lambda status, character: [""])
    settings = Settings()
    settings.bot.command_name = "eileen"
    await serve.run_adapters(Greeter(), settings, Secrets(), Console(), None)  # type: ignore[arg-type]
    assert given["command"] == "eileen"

"""The console takes a full-width ／ (a Chinese or Japanese input method's) as a slash:
`／reset` was sent to her as chat while the user believed memory was reset. A command
with words after it is named back as typed (`/eileen reset`), not as `/reset`."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.console import PLATFORM, as_console_command, console_user_id, run_console
from model.protocol import ScopeRef
from model.service import ChatService


@pytest.mark.parametrize(
    ("typed", "command"),
    [("\uff0freset", "/reset"), ("\uff0feileen reset", "/reset"), ("\uff0feileen", "/help")],
)
def test_a_full_width_slash_is_a_slash(typed: str, command: str) -> None:
    assert as_console_command(typed, "eileen") == command


async def _console(service: ChatService, monkeypatch: pytest.MonkeyPatch, typed: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=500)
    await run_console(service, console, "you", "ATRI", "hello", [], command="eileen")
    return screen.getvalue()


async def test_full_width_reset_resets_and_nothing_reaches_her(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await _console(
        echo_service, monkeypatch, "hi\n\uff0freset\nafter\n\uff0feileen reset\n"
    )
    assert shown.count("Memory of this conversation is reset.") == 2
    history = await echo_service.history(ScopeRef(platform=PLATFORM, user_id=console_user_id()))
    assert [m.content for m in history if m.role == "user"] == []


async def test_words_after_a_command_name_what_was_typed(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await _console(echo_service, monkeypatch, "/eileen reset now\n/eileen bogus\n")
    assert "/eileen reset takes nothing after it; type /eileen reset alone." in shown
    assert "/reset takes nothing" not in shown
    assert "Unknown command /eileen bogus." in shown


@pytest.mark.parametrize("name", ["quit", "exit", "reset", "history"])
def test_a_command_name_the_console_has_too_stays_the_consoles(name: str) -> None:
    """`[bot] command_name = "quit"` turned /quit into /help: the console did not leave,
    while its help line said "/quit leaves"."""
    assert as_console_command(f"/{name}", name) == f"/{name}"
    assert as_console_command(f"/{name} reset", name) == "/reset"
    assert as_console_command("/help", name) == "/help"


async def test_a_double_slash_sends_a_message_that_begins_with_one(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing beginning with / could be said to her (a pasted path, "/me waves"): each
    was an unknown command, with no way around it."""
    shown = await _console(echo_service, monkeypatch, "//etc/hosts is where?\n/me waves\n")
    assert "Unknown command /me" in shown and "// sends a message" in shown
    history = await echo_service.history(ScopeRef(platform=PLATFORM, user_id=console_user_id()))
    assert [turn.content for turn in history if turn.role == "user"] == ["/etc/hosts is where?"]


async def test_the_bots_memory_and_status_commands_work_here_too(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The help said "/atri reset and the like, as on Discord and QQ", but `/atri memory`
    and `/atri status` were "Unknown command" (s66)."""
    shown = await _console(echo_service, monkeypatch, "hi\n/eileen memory\n/eileen status\n")
    assert "Unknown command" not in shown
    assert "you: hi" in shown  # the conversation, as /history shows it
    assert "Engine echo, base model " in shown and "adapter none, 0 waiting." in shown

"""The console REPL driven in-process on the echo service: what reaches the terminal."""

from __future__ import annotations

import io
import socket

import pytest
from rich.console import Console

from atri.config import Secrets, Settings
from bot.console import PLATFORM, console_user_id, run_console
from bot.limits import MAX_INPUT_CHARS
from bot.relay import HttpWorker
from model.protocol import ScopeRef
from model.service import ChatService

# ESC c resets the whole terminal; ESC ] 0 ; … sets its title; CSI (0x9b) is ESC [ in
# one byte; NUL and DEL have no business on a screen either.
HOSTILE = "a\x1bc b\x1b]0;pwned\x1b\\ c\x9b2J d\x00e\x7f"


async def chat_in_console(
    service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
    lines: str,
    names: tuple[str, str] = ("you", "ATRI"),
    greeting: str = "hello",
) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=500)
    await run_console(service, console, names[0], names[1], greeting, [], about=[HOSTILE])
    return screen.getvalue()


async def test_control_characters_never_reach_the_terminal(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The echo engine repeats the message, as a model could write any of these.
    shown = await chat_in_console(
        echo_service,
        monkeypatch,
        f"{HOSTILE}\n/history\n",
        names=(f"me{HOSTILE}", f"her{HOSTILE}"),
        greeting=HOSTILE,
    )
    for control in ("\x1b", "\x9b", "\x00", "\x7f"):
        assert control not in shown
    # Only the controls go; the text around them stays readable: in the about line, the
    # greeting, the reply, and /history's two lines.
    assert shown.count("ac b]0;pwned\\ c2J de") >= 5


async def test_a_command_with_words_after_it_is_not_sent_to_her(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await chat_in_console(
        echo_service, monkeypatch, "hi\n/reset everything\n/history\tplease\n/quit now\nafter\n"
    )
    assert "/reset takes nothing after it; type /reset alone." in shown
    assert "/history takes nothing after it" in shown
    assert "/quit takes nothing after it" in shown
    assert "听到了：/" not in shown  # no command reached the model as a message
    history = await echo_service.history(ScopeRef(platform=PLATFORM, user_id=console_user_id()))
    assert [m.content for m in history if m.role == "user"] == ["hi", "after"]


async def test_a_worker_gone_away_is_told_and_the_chat_goes_on(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # Nothing listens there now: the worker was stopped, or restarted, during the chat.
    settings = echo_settings.worker.model_copy(update={"url": url})
    async with HttpWorker(settings, Secrets()) as remote:
        monkeypatch.setattr("sys.stdin", io.StringIO("/reset\nhi\n"))
        screen = io.StringIO()
        console = Console(file=screen, force_terminal=False, width=500)
        await run_console(remote, console, "you", "ATRI", "hello", [("user", "old")])
    shown = screen.getvalue()
    assert "Cannot reach the worker" in shown
    assert "Memory of this conversation is reset." not in shown
    assert f"ATRI: {settings.error_reply}" in shown  # "hi" was still answered, in her voice
    assert "Bye!" in shown


async def test_her_lines_show_as_written_markup_and_backslashes_too(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Escaped markup doubled a backslash that ended a line; nothing in her words is markup.
    shown = await chat_in_console(
        echo_service, monkeypatch, "a path C:\\dir\\\n[bold]not bold[/]\n", greeting="bye\\"
    )
    lines = shown.splitlines()
    assert "ATRI: bye\\" in lines
    assert any(line.endswith("a path C:\\dir\\") for line in lines)
    assert any(line.endswith("[bold]not bold[/]") for line in lines)


async def sent(service: ChatService) -> list[str]:
    """What the console sent her and memory keeps, oldest first."""
    history = await service.history(ScopeRef(platform=PLATFORM, user_id=console_user_id()))
    return [m.content for m in history if m.role == "user"]


async def test_a_line_of_zero_width_characters_is_as_empty_as_a_blank_one(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    invisible = "\u200b\u200c\u200d\u2060\ufeff"
    shown = await chat_in_console(echo_service, monkeypatch, f"{invisible}\n \u200b \nhi\n   \n")
    assert await sent(echo_service) == ["hi"]
    assert shown.count("ATRI: ") == 2  # the greeting and the answer to "hi"


async def test_a_paste_longer_than_the_bots_take_is_cut_as_they_cut_it(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    paste = "word " * 8000  # 40,000 characters
    shown = await chat_in_console(echo_service, monkeypatch, f"{paste}\n")
    assert await sent(echo_service) == [paste[:MAX_INPUT_CHARS].strip()]
    assert f"Only the first {MAX_INPUT_CHARS:,} characters are sent" in shown
    assert "听到了：word word" in shown  # and she answers what was sent


async def test_help_lists_the_commands_and_is_not_sent_to_her(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await chat_in_console(echo_service, monkeypatch, "/help\n/history\n")
    assert "Unknown command" not in shown
    # Once at the start, once for /help; the echo engine never heard it.
    assert shown.count("/help lists these") == 2
    assert "(no messages yet)" in shown

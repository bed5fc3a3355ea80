"""The console with others beside it: /history reads memory each time (another terminal
may have purged or written it), a Notepad file's BOM piped in is no part of a line, and
a carriage return in any platform's text is a line end."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from atri.config import Secrets, Settings
from bot.console import PLATFORM, console_user_id, run_console
from bot.relay import HttpWorker
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest, MemoryUnavailable, Reply, ScopeRef, clean_str
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.test_console import run_chat, write_config

SCOPE = ScopeRef(platform=PLATFORM, user_id=console_user_id())


class BesideAnotherTerminal:
    """The echo service, with another terminal acting on this conversation right after
    each of her replies: `atri memory purge`, or a second console chatting."""

    def __init__(self, service: ChatService, purges: bool) -> None:
        self._service = service
        self._purges = purges

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def chat(self, request: ChatRequest) -> Reply:
        reply = await self._service.chat(request)
        if self._purges:
            await self._service.purge(SCOPE)
        else:
            other = request.model_copy(update={"text": "said in the other console"})
            await self._service.chat(other)
        return reply


async def console_shows(worker: object, monkeypatch: pytest.MonkeyPatch, typed: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=500)
    await run_console(worker, console, "you", "ATRI", "hello", [])  # type: ignore[arg-type]
    return screen.getvalue()


async def test_history_after_a_purge_from_another_terminal_shows_nothing_purged(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the console's own list, read once at its start, still showed the purged text.
    worker = BesideAnotherTerminal(echo_service, purges=True)
    shown = await console_shows(worker, monkeypatch, "my phone is 555-0100\n/history\n")
    _, after_her_reply = shown.split(f"ATRI: {EchoEngine.prefix}my phone is 555-0100", 1)
    assert "555-0100" not in after_her_reply
    assert "(no messages yet)" in after_her_reply


async def test_history_shows_what_another_console_said_meanwhile(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = BesideAnotherTerminal(echo_service, purges=False)
    shown = await console_shows(worker, monkeypatch, "hi\n/history\n")
    _, history = shown.split(f"ATRI: {EchoEngine.prefix}hi", 1)
    assert "you: said in the other console" in history
    assert f"ATRI: {EchoEngine.prefix}said in the other console" in history


class MemoryFailing:
    """The echo service whose memory fails when a conversation is read."""

    def __init__(self, service: ChatService) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def history(self, scope: ScopeRef) -> list[Any]:
        raise MemoryUnavailable("Her memory is unavailable now (the file is damaged).")


async def test_history_that_memory_cannot_read_is_one_sentence_and_the_chat_goes_on(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await console_shows(MemoryFailing(echo_service), monkeypatch, "hi\n/history\nmore\n")
    assert "Her memory is unavailable now (the file is damaged)." in shown
    assert f"ATRI: {EchoEngine.prefix}more" in shown
    assert "you: hi" not in shown


async def test_history_with_the_worker_gone_away_says_so(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{gone.getsockname()[1]}"
    settings = echo_settings.worker.model_copy(update={"url": url})
    async with HttpWorker(settings, Secrets()) as remote:
        shown = await console_shows(remote, monkeypatch, "/history\n")
    assert "Cannot reach the worker" in shown
    assert "(no messages yet)" not in shown
    assert "Bye!" in shown


# --- A BOM and carriage returns ---


async def test_a_bom_before_a_command_is_no_part_of_it(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Notepad file piped in: its BOM, and Windows line ends.
    shown = await console_shows(echo_service, monkeypatch, "\ufeff/status\r\n\u200bhi\r\n")
    assert "Engine echo" in shown
    assert "Unknown command" not in shown and "\ufeff" not in shown and "\u200b" not in shown
    assert f"ATRI: {EchoEngine.prefix}hi\n" in shown
    assert [m.content for m in await echo_service.history(SCOPE)] == [
        "hi",
        EchoEngine.prefix + "hi",
    ]


def test_a_piped_notepad_file_chats_without_its_bom(tmp_path: Path) -> None:
    """`cat notes.txt | atri chat`, as the bytes arrive."""
    result = run_chat(write_config(tmp_path), ["\ufeff/status\r", "hi\r"])
    shown = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Engine echo" in shown and "Unknown command" not in shown
    assert f"{EchoEngine.prefix}hi" in shown
    assert "\ufeff" not in shown and "\r" not in shown


def test_clean_str_ends_lines_in_newlines() -> None:
    assert clean_str("a\r\nb\rc\n\r") == "a\nb\nc\n\n"
    assert clean_str("no returns") == "no returns"
    assert ChatRequest(platform="console", user_id="u", text="x\r\ny").text == "x\ny"


async def test_a_carriage_return_typed_in_the_console_is_a_line_end(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await console_shows(echo_service, monkeypatch, "second\rline\n")
    assert "\r" not in shown
    stored = await echo_service.history(SCOPE)
    assert [m.content for m in stored] == ["second\nline", EchoEngine.prefix + "second\nline"]


async def test_a_v1_message_with_carriage_returns_is_stored_and_echoed_with_newlines(
    echo_service: ChatService,
) -> None:
    async with (
        serving(create_app(echo_service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        done = await client.post(
            "/v1/chat/completions",
            json={
                "model": "atri",
                "user": "u7",
                "messages": [{"role": "user", "content": "a\r\nb\rc"}],
            },
        )
    assert done.status_code == 200, done.text
    assert done.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + "a\nb\nc"
    stored = await echo_service.history(ScopeRef(platform="openai", user_id="u7"))
    assert [m.content for m in stored] == ["a\nb\nc", EchoEngine.prefix + "a\nb\nc"]

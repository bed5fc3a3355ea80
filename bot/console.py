"""Console chat with ATRI: a multi-turn REPL over the same worker the bots use."""

from __future__ import annotations

import asyncio
import getpass
import sys

from rich.console import Console
from rich.markup import escape

from model.protocol import ChatRequest, ScopeRef, Worker

PLATFORM = "console"
HELP = "Commands: /reset forgets this conversation, /history shows it, /quit leaves."


def console_user_id() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


async def _read_line(prompt: str, console: Console) -> str | None:
    """One line from stdin without blocking the event loop; None at end of input."""
    interactive = sys.stdin.isatty()
    if interactive:
        console.print(prompt, end="")
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        return None
    return line.rstrip("\n")


async def run_console(
    worker: Worker,
    console: Console,
    user_name: str,
    character_name: str,
    greeting: str,
    history: list[tuple[str, str]],
) -> None:
    """The REPL. `history` is what memory holds already (role, text), for /history."""
    user_id = console_user_id()
    scope = ScopeRef(platform=PLATFORM, user_id=user_id)
    console.print(f"[dim]{HELP}[/dim]")
    if not history and greeting:
        console.print(f"[bold magenta]{escape(character_name)}[/]: {escape(greeting)}")
    while True:
        line = await _read_line(f"[bold cyan]{escape(user_name)}[/]: ", console)
        if line is None or line.strip() in {"/quit", "/exit"}:
            break
        command = line.strip()
        if not command:
            continue
        if command == "/reset":
            await worker.reset(scope)
            history.clear()
            console.print("[dim]Memory of this conversation is reset.[/dim]")
            continue
        if command == "/history":
            if not history:
                console.print("[dim](no messages yet)[/dim]")
            for role, text in history:
                who = character_name if role == "assistant" else user_name
                console.print(f"[dim]{escape(who)}: {escape(text)}[/dim]")
            continue
        if command.startswith("/") and command.split()[0] not in {"/reset", "/history"}:
            console.print(f"[dim]Unknown command {escape(command.split()[0])}. {HELP}[/dim]")
            continue
        request = ChatRequest(platform=PLATFORM, user_id=user_id, display_name=user_name, text=line)
        with console.status(f"{escape(character_name)} is thinking…", spinner="dots"):
            reply = await worker.chat(request)
        if reply.status == "ok":
            history += [("user", line), ("assistant", reply.text)]
        console.print(f"[bold magenta]{escape(character_name)}[/]: {escape(reply.text)}")
    console.print("[dim]Bye![/dim]")

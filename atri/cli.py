"""The `atri` command: one entry point for data prep, training, evaluation and serving."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from atri.config import ConfigError, Settings, load_settings

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    help="ATRI: from a visual-novel script to a role-play character you can chat with.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
memory_app = typer.Typer(help="Inspect and manage conversation memory.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")

console = Console()
err_console = Console(stderr=True)


class State:
    config: str | None = None


def _settings() -> Settings:
    try:
        return load_settings(State.config)
    except ConfigError as exc:
        fail(str(exc), code=2)
        raise  # unreachable; fail() exits


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"error: {message}", style="bold red", highlight=False, markup=False)
    raise typer.Exit(code)


def not_built(what: str) -> None:
    err_console.print(f"`atri {what}` is not built yet.", highlight=False, markup=False)
    raise typer.Exit(2)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine; turn the errors a user can cause into one sentence."""
    from model.loading import ModelNotFoundError
    from model.persona import PersonaError

    try:
        return asyncio.run(coro)
    except (ModelNotFoundError, PersonaError, ConfigError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.callback()
def main(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="config file (default: $ATRI_CONFIG, else ./config.toml)"
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what happens")] = False,
) -> None:
    State.config = config
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    if not verbose:
        for noisy in ("transformers", "httpx", "peft"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


@app.command()
def chat() -> None:
    """Chat with ATRI in this terminal (remembers across restarts)."""
    settings = _settings()
    run_async(_chat(settings))


async def _chat(settings: Settings) -> None:
    from bot.serve import console_chat
    from model.service import ChatService

    with console.status("Waking ATRI up (loading the model)…", spinner="dots"):
        service = await ChatService.open(settings)
    async with service:
        await console_chat(service, settings, console)


@app.command()
def serve() -> None:
    """Run ATRI on Discord and QQ (console chat when no bot is configured)."""
    from atri.config import Secrets
    from bot.serve import serve as serve_all

    settings = _settings()
    run_async(serve_all(settings, Secrets.from_env(), console))


@app.command()
def worker() -> None:
    """Run the model worker alone behind HTTP (and the OpenAI-compatible API)."""
    not_built("worker")


@app.command()
def prep() -> None:
    """Turn game scripts into a training dataset."""
    not_built("prep")


@app.command()
def train() -> None:
    """Fine-tune a LoRA adapter on the dataset."""
    not_built("train")


@app.command(name="eval")
def eval_() -> None:
    """Compare base and adapter: perplexity, out-of-character rate, style."""
    not_built("eval")


def _with_memory(fn: Any) -> Any:
    from model.memory import Memory

    settings = _settings()

    async def go() -> Any:
        async with await Memory.open(settings.path(settings.memory.path)) as memory:
            return await fn(memory)

    return run_async(go())


@memory_app.command("list")
def memory_list() -> None:
    """List conversation scopes with their message counts."""

    async def go(memory: Any) -> list[dict[str, Any]]:
        return await memory.scopes()  # type: ignore[no-any-return]

    rows = _with_memory(go)
    if not rows:
        console.print("No conversations stored yet.")
        return
    table = Table("scope", "live", "archived", "last message")
    import datetime as dt

    for r in rows:
        last = dt.datetime.fromtimestamp(r["last"]).strftime("%Y-%m-%d %H:%M")
        table.add_row(r["scope"], str(r["live"]), str(r["total"] - r["live"]), last)
    console.print(table)


@memory_app.command("show")
def memory_show(
    scope: str,
    archived: Annotated[bool, typer.Option(help="include reset (archived) messages")] = False,
) -> None:
    """Show one scope's conversation."""

    async def go(memory: Any) -> Any:
        return await memory.all_messages(scope, include_archived=archived)

    messages = _with_memory(go)
    if not messages:
        console.print(f"No messages in scope {scope}.", markup=False)
        return
    for m in messages:
        who = m.display_name or m.user_id or m.role
        tag = f" [{m.adapter_version}]" if m.adapter_version else ""
        flag = " (archived)" if m.archived else ""
        console.print(f"{m.role:9} {who}{tag}{flag}: {m.content}", markup=False, highlight=False)


@memory_app.command("reset")
def memory_reset(scope: str) -> None:
    """End a scope's context (messages stay archived)."""

    async def go(memory: Any) -> int:
        return await memory.reset(scope)  # type: ignore[no-any-return]

    count = _with_memory(go)
    console.print(f"Reset {scope}: {count} messages archived.", markup=False)


@memory_app.command("purge")
def memory_purge(
    scope: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete a scope's messages for good, archived ones included."""
    if not yes and not typer.confirm(f"Delete every message of {scope} for good?"):
        raise typer.Exit(1)

    async def go(memory: Any) -> int:
        return await memory.purge(scope)  # type: ignore[no-any-return]

    count = _with_memory(go)
    console.print(f"Purged {scope}: {count} messages deleted.", markup=False)


@memory_app.command("export")
def memory_export(
    scope: str,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write a scope's messages as JSON."""

    async def go(memory: Any) -> dict[str, Any]:
        return await memory.export(scope)  # type: ignore[no-any-return]

    data = _with_memory(go)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"Wrote {len(data['messages'])} messages to {out}.", markup=False)

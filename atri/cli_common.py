"""What every `atri` command shares: how a command is registered (`--config` where people
type it, a `UserError` as one sentence), the consoles, the settings it runs with, and how
it fails or writes a file. `cli.py` and the command groups beside it import this; it
imports none of them."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import shlex
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from atri.config import Settings, find_config_path, load_settings
from atri.errors import ConfigError, UserError

CONFIG_HELP = "config file (default: $ATRI_CONFIG, else ./config.toml)"


class Commands(typer.Typer):
    """Every command registered here takes `--config` where people type it (before or
    after the command name), reads `~` in its path arguments as the config does, and
    turns a `UserError` into its one sentence (exit 2 for config errors, 1 otherwise):
    the one place the CLI handles errors users cause."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        register = super().command(*args, **kwargs)
        return lambda fn: register(_with_config_option(_one_sentence_errors(_home_expanded(fn))))


def _home_expanded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Expand a leading `~` in the command's path arguments, as a path in the config file
    and `--config` are: the shell leaves it alone when quoted (`--out "~/my data"`), and
    Windows' shells never expand it, so `~` was read as a folder named `~`."""

    def expanded(value: Any) -> Any:
        if isinstance(value, Path):
            return Path(os.path.expanduser(value))  # as the config: never an error
        if isinstance(value, list | tuple):
            return type(value)(expanded(item) for item in value)
        return value

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return fn(*(expanded(a) for a in args), **{key: expanded(v) for key, v in kwargs.items()})

    return run


def _with_config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--config/-c` to a command's own options; given there, it wins over the
    one given before the command name."""
    signature = inspect.signature(fn, eval_str=True)  # the real Annotated[...] options
    option = inspect.Parameter(
        "config_path",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, typer.Option("--config", "-c", help=CONFIG_HELP)],
    )

    @functools.wraps(fn)
    def run(*args: Any, config_path: str | None = None, **kwargs: Any) -> Any:
        if config_path is not None:
            State.config = config_path
        return fn(*args, **kwargs)

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), option]
    )
    return run


def _one_sentence_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return run


console = Console()
err_console = Console(stderr=True)


class State:
    config: str | None = None


def config_after_group(
    config_path: Annotated[str | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
) -> None:
    # `atri memory --config X list`: between the group and its command, as people type it.
    if config_path is not None:
        State.config = config_path


def atri_command(command: str) -> str:
    """`atri <command>` as the user must type it to run under this run's config: with
    `--config` when it is not the one `atri` finds without it (a second character's)."""
    used = find_config_path(State.config)
    try:
        default = find_config_path(None)
    except ConfigError:  # $ATRI_CONFIG names a missing file: only --config would work
        default = None
    if used is None or (default is not None and default.resolve() == used.resolve()):
        return f"atri {command}"
    return f"atri --config {shlex.quote(str(used))} {command}"


def configured_settings() -> Settings:
    settings = load_settings(State.config)
    for notice in settings.notices:
        err_console.print(notice, style="yellow", highlight=False, markup=False)
    return settings


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"error: {message}", style="bold red", highlight=False, markup=False)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def write_output(path: Path, text: str) -> None:
    """Replace `path` whole or not at all: a full disk or a missing folder is one
    sentence, and an earlier file there (last week's backup) is left as it was."""
    from atri.files import write_text_atomic

    existed = path.is_file()
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        kept = "the file there is left as it was" if existed else "nothing was written"
        fail(f"{path} cannot be written ({exc.strerror or exc}); {kept}.")

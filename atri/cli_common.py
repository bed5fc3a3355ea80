"""What every `atri` command shares: how a command is registered (`--config` where people
type it, a `UserError` as one sentence), the consoles, the settings it runs with, and how
it fails or writes a file. `cli.py` and the command groups beside it import this; it
imports none of them."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import inspect
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, TextIO, TypeVar

import typer
from rich.console import Console, ConsoleDimensions
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context
from typer.core import TyperArgument, TyperCommand, TyperOption

from atri.config import Settings, find_config_path, load_settings, misspelt_environment
from atri.errors import ConfigError, UserError
from atri.interrupt import STATUS, end_now, note_stop_signal, serving, stop_line
from atri.out_of_memory import is_out_of_memory, out_of_memory_sentence
from atri.terminal import suggested_command

CONFIG_HELP = "config file (default: $ATRI_CONFIG, else ./config.toml)"


class Commands(typer.Typer):
    """Every command registered here takes `--config` where people type it (before or
    after the command name), reads `~` in its path arguments as the config does, and
    turns a `UserError` into its one sentence (exit 2 for config errors, 1 otherwise):
    the one place the CLI handles errors users cause.

    Ctrl-C in a command is Python's KeyboardInterrupt (the command may undo what it did),
    then `Stopped (Ctrl-C).` and status 130. `ctrl_c_at_once=True`: the command opens and
    writes nothing before its event loop runs (`run_async`), so Ctrl-C until then ends
    the process at once, as while `atri` imports (see atri/interrupt.py).

    SIGTERM stopping a command ends it with status 143: its work was not done.
    `service=True` (`atri serve`, `worker`, `chat`): stopping is all a service is asked
    to do, so a SIGTERM that stops it ends it with status 0 (`interrupt.serving`)."""

    def command(
        self, *args: Any, ctrl_c_at_once: bool = False, service: bool = False, **kwargs: Any
    ) -> Any:
        kwargs.setdefault("cls", Command)
        register = super().command(*args, **kwargs)

        def registered(fn: Callable[..., Any]) -> Any:
            run = _one_sentence_errors(_home_expanded(fn), ctrl_c_at_once)
            return register(_with_config_option(_as_service(run) if service else run))

        return registered


def _as_service(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The command says it is a service before it runs (see `Commands`)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        serving()
        return fn(*args, **kwargs)

    return run


class Command(TyperCommand):
    """An `atri` command that refuses an empty path: `--out "$OUT"` or `atri prep "$F"`
    with the variable unset reaches us as "", which pathlib reads as the current folder,
    so prep read every file there as a script or wrote its dataset beside them."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given = list(args)
        rest = super().parse_args(ctx, args)
        if any(_given_value(token) == "" for token in given):
            for param in self.params:
                if (
                    isinstance(param, TyperArgument | TyperOption)
                    and param.name
                    and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE
                    and _holds_current_folder(ctx.params.get(param.name))
                    and not any(_names_current_folder(_given_value(t)) for t in given)
                ):
                    raise typer.BadParameter(
                        "is empty: name a file or folder (use . for this folder)",
                        ctx=ctx,
                        param=param,
                    )
        return rest


def _given_value(token: str) -> str:
    """The value a command-line token carries: `--out=x` carries x."""
    return token.split("=", 1)[1] if token.startswith("-") and "=" in token else token


def _holds_current_folder(value: Any) -> bool:
    items = value if isinstance(value, list | tuple) else [value]
    return any(isinstance(item, Path) and item == Path(".") for item in items)


def _names_current_folder(value: str) -> bool:
    return value != "" and not value.startswith("-") and Path(value) == Path(".")


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


def _one_sentence_errors(fn: Callable[..., Any], ctrl_c_at_once: bool) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with contextlib.nullcontext() if ctrl_c_at_once else keyboard_interrupt():
                return fn(*args, **kwargs)
        except UserError as exc:
            fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1)
        except KeyboardInterrupt:
            stopped()
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
                # Wherever a path is first looked at (`Path.exists` raises this one): a
                # folder or file name past the file system's 255 bytes (about 85 Chinese
                # characters) given as an argument or in the config.
                where = f"{exc.filename}: " if exc.filename else ""
                fail(
                    f"{where}a name in this path is too long for the file system (at most "
                    "255 bytes for each folder or file name); use a shorter one."
                )
            if not is_out_of_memory(exc):
                raise
            # Under `ulimit -v`, on a small VPS or beside other programs: not a bug of ours.
            context = get_current_context(silent=True)
            fail(out_of_memory_sentence(context.command_path if context else "atri", exc))

    return run


@contextlib.contextmanager
def keyboard_interrupt() -> Iterator[None]:
    """Inside, Ctrl-C is Python's KeyboardInterrupt again, for a command that undoes what
    it did on it. Where `end_at_once` did not run (a test calling the command), nothing
    changes."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not end_now
    ):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, end_now)


# The width a table is laid out for where the output has none (a pipe, a file, a
# journal): wide enough that no column of ours is squeezed, narrow enough to read.
PIPE_TABLE_WIDTH = 160


class CliConsole(Console):
    """rich's console, on a terminal as rich has it. Written to a pipe or a file (`atri
    worker > log.txt`, a systemd journal, `docker logs`), rich wrapped every line at 80
    columns, or at the width of the terminal the command was started from, so a sentence
    broke in the middle of an address: there each sentence is one line, however long,
    and a table is laid out for PIPE_TABLE_WIDTH columns. $COLUMNS, where set, is the
    width everywhere (rich reads it on a terminal too)."""

    @property
    def on_terminal(self) -> bool:
        """Whether the output is a terminal (rich's `is_terminal` is also true where
        FORCE_COLOR asks for colours in a file)."""
        return _isatty(self.file)

    @property
    def wraps(self) -> bool:
        """Whether lines are wrapped at `width`: on a terminal, or where $COLUMNS says how
        wide the output is."""
        return self.on_terminal or os.environ.get("COLUMNS", "").isdigit()

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.wraps or self._width is not None:  # a width given to the console is kept
            return size
        return ConsoleDimensions(PIPE_TABLE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print(self, *objects: Any, soft_wrap: bool | None = None, **kwargs: Any) -> None:
        if soft_wrap is None:
            soft_wrap = self.soft_wrap or not self.wraps
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed file
        return False


# No emoji codes: rich would print a card's or a message's ":heart:" as an emoji, even
# with markup off, and the commands print such text from outside.
console = CliConsole(emoji=False)
err_console = CliConsole(stderr=True, emoji=False)


class State:
    config: str | None = None


def config_after_group(
    config_path: Annotated[str | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
) -> None:
    # `atri memory --config X list`: between the group and its command, as people type it.
    if config_path is not None:
        State.config = config_path


def atri_command(*args: str | Path) -> str:
    """`atri ARGS…` as the user must type it to run under this run's config: with
    `--config` when it is not the one `atri` finds without it (a second character's)."""
    used = find_config_path(State.config)
    try:
        default = find_config_path(None)
    except ConfigError:  # $ATRI_CONFIG names a missing file: only --config would work
        default = None
    if used is None or (default is not None and default.resolve() == used.resolve()):
        return suggested_command(None, *args)
    return suggested_command(used, *args)


def configured_settings() -> Settings:
    settings = load_settings(State.config)
    for notice in [*settings.notices, *misspelt_environment(os.environ)]:
        err_console.print(notice, style="yellow", highlight=False, markup=False)
    return settings


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"error: {message}", style="bold red", highlight=False, markup=False)
    raise typer.Exit(code)


def check_given_files(*given: tuple[str, Path | None]) -> None:
    """Each (flag, path) given on the command line names something that exists: else one
    sentence naming the flag. The later check's "run `atri prep` or pass --dataset" read
    oddly to someone who had just passed --dataset with a typo in it. (A folder is left
    to that check, which names the file in it to pass.)"""
    for flag, path in given:
        if path is not None and not path.exists():
            fail(f"{path.resolve()}: not found; fix {flag}.")


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question (tests replace it)."""
    return _isatty(sys.stdin)


def ask_first(question: str, unanswered: str, declined: str) -> None:
    """Ask `question` before something that cannot be undone; go on only on a yes.
    Without a terminal to ask on (a pipe, a script, cron), stop with the sentence
    `unanswered`, which names --yes: an answer read from a pipe is whatever the pipe
    holds, not someone's decision. `declined` is said on a no. Either way, exit 1."""
    if not stdin_is_terminal():
        fail(unanswered)
    if not _yes_to(question):
        console.print(declined, markup=False, highlight=False)
        raise typer.Exit(1)


def _yes_to(question: str) -> bool:
    """`question [y/N]: ` on stderr, so that it is seen with stdout sent to a file (click's
    question went to stdout, or left a space there); no answer (Enter, Ctrl-D) is no."""
    while True:
        err_console.print(f"{question} [y/N]: ", end="", markup=False, highlight=False)
        line = sys.stdin.readline()
        if not line:  # Ctrl-D: the cursor is still after the question
            err_console.print("")
            return False
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        err_console.print("Answer y or n.", markup=False, highlight=False)


def stopped() -> NoReturn:
    """Ctrl-C (or SIGTERM) stopped the command once its own cleanup ran: its line; the
    entry point ends the process with its status (atri/interrupt.py)."""
    err_console.print(stop_line(), highlight=False, markup=False)
    raise typer.Exit(STATUS)


T = TypeVar("T")

# Seconds the loop's threads get to end after a Ctrl-C: an idle worker ends at once, a
# job already running there (a prompt being fitted) ends soon; a model load does not.
THREADS_END_WITHIN = 1.0

# SIGTERM (`systemctl stop`, `docker stop`) stops a command as the first Ctrl-C does: by
# default it ended Python at once, the service never closed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def a_thread_would_hold_the_exit(after: float) -> bool:
    """Whether Python would wait, at exit, for a thread still running `after` seconds
    from now (one loading the model cannot be stopped)."""
    deadline = time.monotonic() + after
    for thread in threading.enumerate():
        if thread.daemon or thread is threading.main_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return True
    return False


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with Ctrl-C as atri/interrupt.py says: the first cancels the task
    (its cleanup runs), then `Stopped (Ctrl-C).` and 130 without waiting for the loop's
    threads (closing the loop waits for each: one loading the model cannot be stopped);
    a second Ctrl-C, or one once the task is done, ends at once. SIGTERM does the same,
    said as `Stopped (SIGTERM).`, status 143 (0 for a service: `Commands`).

    Ctrl-C never raises KeyboardInterrupt here. A handler someone sets inside is theirs
    until they put this one back (the worker's while it serves)."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(coro)  # signal handlers are the main thread's
    tasks: list[asyncio.Task[T]] = []
    cancelled = False

    async def main() -> T:
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        return await coro

    def on_stop_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal cancelled
        note_stop_signal(signum)
        if cancelled or not tasks or tasks[0].done():
            end_now()
        cancelled = True
        tasks[0].cancel()
        tasks[0].get_loop().call_soon_threadsafe(lambda: None)  # wake it from its wait

    previous = {signum: signal.signal(signum, on_stop_signal) for signum in STOP_SIGNALS}
    try:
        with asyncio.Runner() as runner:
            # The loop's thread pool is ours, so that a Ctrl-C can end its idle workers.
            pool = ThreadPoolExecutor(thread_name_prefix="asyncio")
            runner.get_loop().set_default_executor(pool)
            try:
                return runner.run(main())
            except asyncio.CancelledError:
                if not cancelled:
                    raise
            # The task's cleanup has run. The pool's idle workers end now, so the
            # command's own cleanup outside the loop runs too (a scratch folder goes);
            # a thread still busy (a model loading) cannot be stopped: end without it.
            pool.shutdown(wait=False, cancel_futures=True)
            if a_thread_would_hold_the_exit(after=THREADS_END_WITHIN):
                end_now()
        stopped()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def output_path(out: Path | None) -> Path | None:
    """`--out`'s file; None for standard output (no `--out`, or the usual `-`)."""
    return None if out is None or str(out) == "-" else out


def own_file(path: Path, settings: Settings) -> str:
    """What of ATRI's own `path` is ("" if none): the config file, the memory database
    (or SQLite's -wal, -shm and -journal beside it), the character card. An export
    written over one (`atri persona export -o data/atri.sqlite3`) destroyed it."""
    target = path.expanduser().resolve()
    owned = {}
    if settings.config_file:
        owned[Path(settings.config_file).resolve()] = "the config file"
    if str(settings.memory.path) != ":memory:":
        base = settings.path(settings.memory.path).resolve()
        for suffix in ("", "-wal", "-shm", "-journal"):
            owned[base.with_name(base.name + suffix)] = "the memory database ([memory] path)"
    if settings.persona.card:
        owned[settings.path(settings.persona.card).resolve()] = (
            "the character card ([persona] card)"
        )
    return owned.get(target, "")


def write_output(path: Path, text: str, settings: Settings, private: bool = False) -> None:
    """Replace `path` whole or not at all (see `writing_output`) with `text`."""
    with writing_output(path, settings, private) as write:
        write(text)


@contextlib.contextmanager
def writing_output(
    path: Path, settings: Settings, private: bool = False
) -> Iterator[Callable[[str], None]]:
    """Replace `path` whole or not at all with the text the `with` block writes, a part at
    a time, through the function it is given (a backup too large to hold as one string):
    a full disk or a missing folder is one sentence, and an earlier file there (last
    week's backup) is left as it was, also when the block fails. ATRI's own files
    (`own_file`) are refused.

    A link is written through (the file it names is replaced, the link stays), and a
    pipe or a device (`--out /dev/stdout`, a FIFO a backup job reads) is written into:
    replaced by a file of the same name, the link's file kept last week's backup and the
    pipe's reader got nothing, while the command said it wrote them.

    `private`: a new file is made readable by its owner alone (a memory backup holds
    people's private chats); one there keeps its mode."""
    from atri.files import replacing

    if what := own_file(path, settings):
        fail(f"{path} is {what}: write the export elsewhere.")
    try:
        kind = os.stat(path).st_mode
    except OSError:
        kind = 0
    # Written through the path itself: `/dev/stdout` under a pipe is a link to
    # "pipe:[N]", which no resolved path names.
    streamed = stat.S_ISFIFO(kind) or stat.S_ISCHR(kind) or stat.S_ISSOCK(kind)
    target = path.resolve() if path.is_symlink() and not streamed else path
    existed = target.is_file()

    file_failed = block_failed = False

    def written_to(file: TextIO) -> Callable[[str], None]:
        def write(text: str) -> None:
            nonlocal file_failed
            try:
                file.write(text)
            except OSError:
                file_failed = True
                raise

        return write

    try:
        new_mode = 0o600 if private else 0o666
        with open(path, "w", encoding="utf-8") if streamed else replacing(target, new_mode) as file:
            try:
                yield written_to(file)
            except OSError:
                block_failed = not file_failed
                raise
    except OSError as exc:
        if block_failed:  # the block's own error, not the file's
            raise
        kept = "the file there is left as it was" if existed else "nothing was written"
        fail(f"{path} cannot be written ({exc.strerror or exc}); {kept}.")


def write_stdout(text: str, what: str) -> None:
    """`text` on standard output, or one sentence and status 1: under `> backup.json`
    on a full disk an export wrote part of itself and ended with status 0."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # What is still buffered goes nowhere, so the exit's own flush fails no more.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail(
            f"{what} could not be written to standard output ({exc.strerror or exc}); what"
            " reached it is incomplete."
        )

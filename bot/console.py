"""Console chat with ATRI: a multi-turn REPL over the same worker the bots use."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import queue
import re
import select
import sys
import threading
import time
from typing import Any, NamedTuple

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from atri.config import LANGUAGE_NAMES, OFFLINE_DEFAULT_BASE, BotSettings
from atri.errors import UserError
from atri.terminal import printable, spinning
from bot.commands import action_of, folded
from bot.limits import MAX_INPUT_CHARS, input_kept
from model.protocol import (
    Character,
    ChatRequest,
    Reply,
    ScopeRef,
    Worker,
    WorkerStatus,
    clean_str,
    visible_text,
)

PLATFORM = "console"
# The bots' command (`[bot] command_name`), which their lines show as `/atri reset`.
DEFAULT_COMMAND = BotSettings().command_name


def help_line(command: str = DEFAULT_COMMAND) -> str:
    """The console's commands, each as it takes them: alone, or after the bots' command
    name as their lines show it (`/atri reset`)."""
    return (
        "Commands: /reset forgets this conversation, /history shows it, /memory what she "
        "remembers (its summary and recent turns), /status the model and adapter she runs "
        "on, /help lists these, /quit leaves (or /exit), /forget deletes this "
        "conversation for good; each also after "
        f"/{command} (/{command} reset), as on Discord and QQ; // sends a message that "
        "begins with a slash."
    )


HELP = help_line()
OFFLINE_DEMO_NOTE = (
    "This is the offline demo model: tiny and English-only. For {name} in her card's own "
    'language on a real model, see "Using a real base model" in README.md.'
)
COMMANDS = {"/reset", "/forget", "/history", "/memory", "/status", "/help", "/quit", "/exit"}
RESET_NOTE = (
    "Memory of this conversation is reset. It stays archived in her memory database; "
    "/forget deletes it for good."
)
# `/forget` deletes only when typed again, as the next line, within this many seconds.
FORGET_CONFIRM_SECONDS = 60.0
FORGET_ASK = (
    "/forget deletes for good this conversation from her memory database: its messages "
    "(archived ones too) and its summaries. "
    f"Type /forget again within {FORGET_CONFIRM_SECONDS:.0f} s to go ahead."
)
FORGET_DONE = "Deleted for good: {count} stored {messages}."
CUT_NOTE = f"Only the first {MAX_INPUT_CHARS:,} characters are sent, as on Discord and QQ."
UNDECODABLE_NOTE = (
    "Some bytes you typed or pasted are not {encoding} text (this terminal's encoding): "
    "they were replaced, and the rest of the line was sent."
)
# What of one line a Linux terminal hands over (N_TTY_BUF_SIZE), its newline included.
TERMINAL_LINE_BYTES = 4096
TERMINAL_CUT_NOTE = (
    f"The terminal hands over at most {TERMINAL_LINE_BYTES - 1:,} bytes of one line and "
    "dropped the rest of a longer one: only what it kept is sent. Paste a long text as "
    "several lines."
)
# Lines that reach the console within this of each other were pasted together (a person
# types slower), so they are sent as one message.
PASTE_GAP_SECONDS = 0.05
# A reply not there after this long: the spinner says how long it has waited, checked
# every `TICK_SECONDS`.
STILL_THINKING_SECONDS = 10.0
TICK_SECONDS = 1.0
# The newest turns `/memory` shows after the summary, as the bots' `/atri memory`.
MEMORY_TURNS = 6


def shown(text: str) -> str:
    """Text from outside (a reply, a name, memory) as rich markup that prints as written,
    without its control characters."""
    return escape(printable(text))


def said(name: str, text: str) -> Text:
    """Her line as styled text, not markup: nothing in it is read as markup, and a reply
    ending in a backslash shows one (escaped markup showed it doubled at a line's end)."""
    return Text.assemble((printable(name), "bold magenta"), ": ", printable(text))


def describe_worker(status: WorkerStatus, character: Character) -> list[str]:
    """What the console says it is running before the first message."""
    language = LANGUAGE_NAMES.get(character.language, character.language or "unknown")
    lines = [
        f"{character.name} · base model {status.base_model} · adapter "
        f"{status.adapter_version or 'none'} · engine {status.engine} · language {language}"
    ]
    if status.base_model == OFFLINE_DEFAULT_BASE:
        lines.append(OFFLINE_DEMO_NOTE.format(name=character.name))
    return lines


def _half_width_slash(typed: str) -> str:
    # A Chinese or Japanese input method types a full-width ／: `／reset` was sent to her
    # as chat, and the user believed their memory was reset.
    stripped = typed.lstrip()
    return "/" + stripped[1:] if stripped.startswith("\uff0f") else typed


def as_console_command(typed: str, command: str) -> str:
    """`/atri reset` (`command` "atri"), as the bots' lines show their commands, is the
    console's `/reset`, and so are the words QQ takes for it (`/atri リセット`, `/atri
    重置`: `bot.commands.ACTION_WORDS`), the command's name in any width and case as on
    QQ; `/atri` alone is `/help`; a full-width ／ is a /. Anything else is as typed."""
    typed = _half_width_slash(typed)
    words = typed.split()
    if not words or not _names_the_command(words[0], command):
        return typed
    if len(words) == 1:
        # A command name the console has too (`command_name = "quit"`) stays the
        # console's own: /quit must still leave.
        own = f"/{folded(command)}"  # `/QUIT` leaves as `/quit` does
        return own if own in COMMANDS else "/help"
    return "/" + " ".join([action_of(words[1]), *words[2:]])


def _names_the_command(word: str, command: str) -> bool:
    return folded(word) == folded(f"/{command}")


def command_as_typed(typed: str, command: str) -> str:
    """The command words the user typed (`/eileen reset`, `/reset`), to be named back to
    them rather than the console's own name for it."""
    words = _half_width_slash(typed).split()
    return " ".join(words[:2] if words and _names_the_command(words[0], command) else words[:1])


def console_user_id() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


RATE_LIMITED_NOTE = (
    "(Not answered: more messages this minute than [worker] rate_limit_per_minute allows "
    "one person; 0 there means no limit.)"
)
# What `surrogateescape` makes of a byte that is not text in the stdin's encoding.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
# A terminal's control sequence (CSI: colours, cursor moves) within a prompt.
_CONTROL_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Keys a terminal sends as escape codes (arrows, F-keys, Alt-x, a lone Esc): a line
# typed without line editing held them raw, and they reached her and her memory.
_KEY_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O[@-~]|[ -~]?)")
# Invisible characters at a line's start: the BOM a Notepad file begins with (`cat
# notes.txt | atri chat`), zero-width spaces, joiners and marks. "\ufeff/status" was no
# command, and the BOM reached her reply and memory.
_LEADING_ZERO_WIDTH = re.compile("^[\u200b-\u200f\u2060-\u2064\ufeff\u180e\u061c]+")


def _lenient_stdin() -> None:
    """Bytes that are not text in the terminal's encoding kept, not raised: a stdin that
    decodes strictly (a UTF-8 desktop locale) raised on one stray byte, which ended the
    chat and lost the lines read with it. (A text-only stdin, a test's, is left alone.)"""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(OSError, ValueError):
            reconfigure(errors="surrogateescape")


class _Line(NamedTuple):
    text: str
    undecodable: bool  # it held bytes that were not text, now U+FFFD
    cut: bool  # the terminal dropped the rest of it
    too_long: bool = False  # over `MAX_INPUT_CHARS`: its rest was read past, unsent


def _cut_by_terminal(text: str) -> bool:
    """Linux's terminal driver hands over at most `TERMINAL_LINE_BYTES` of one line, its
    newline included, and silently drops the rest of a longer one (a long paste of
    Chinese: some 1,365 characters)."""
    if not sys.platform.startswith("linux") or not text.endswith("\n"):
        return False
    if len(text) * 4 < TERMINAL_LINE_BYTES:  # no character is over 4 bytes
        return False
    encoding = sys.stdin.encoding or "utf-8"
    if len(text.encode(encoding, "surrogateescape")) < TERMINAL_LINE_BYTES:
        return False
    return _stdin_is_a_terminal()


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # a closed one
        return False


def _line_editing() -> bool:
    """Whether lines are read with GNU readline (arrow keys, history): stdin and stdout
    both terminals, as `input()` needs them to use it."""
    try:
        if not (_stdin_is_a_terminal() and sys.stdout is not None and sys.stdout.isatty()):
            return False
        import readline
    except (ImportError, OSError, ValueError):
        return False
    # A Tab typed or pasted is a Tab, not a completion of nothing.
    readline.parse_and_bind("tab: self-insert")
    return True


def _as_typed(text: str, cut: bool, too_long: bool = False) -> _Line:
    """A line as the user meant it: bytes that were not text replaced by U+FFFD, no
    key's escape code, no control character (`clean_str`: `/reset` and a NUL piped
    after it is /reset), and nothing invisible before its first character."""
    replaced = _ESCAPED_BYTE.sub("\ufffd", text)
    meant = _LEADING_ZERO_WIDTH.sub("", clean_str(_KEY_ESCAPE.sub("", replaced)))
    return _Line(meant, replaced != text, cut, too_long)


# What the console reads of one line: what it sends, and one more character to tell a
# longer line by. The rest is read past in pieces this long, never held whole (a line
# without an end, `atri chat < /dev/zero`, took 4 GB).
_LINE_READ_CHARS = MAX_INPUT_CHARS + 1
_SKIP_CHARS = 65536


def _read_line() -> _Line | None:
    """The next line of stdin (None at its end), without line editing; of a line over
    `MAX_INPUT_CHARS`, what is sent of it, its rest read and dropped."""
    if sys.stdin is None:  # started with stdin closed (`atri chat <&-`): nothing to read
        return None
    text = sys.stdin.readline(_LINE_READ_CHARS)
    if not text:
        return None
    too_long = len(text) == _LINE_READ_CHARS and not text.endswith("\n")
    if too_long:
        while (rest := sys.stdin.readline(_SKIP_CHARS)) and not rest.endswith("\n"):
            pass
        text = input_kept(text) + "\n"
    return _as_typed(text, _cut_by_terminal(text), too_long)


def _read_edited_line(prompt: str) -> _Line | None:
    """The next line typed at `prompt` with readline's editing (None at Ctrl-D)."""
    try:
        return _as_typed(input(prompt) + "\n", cut=False)
    except EOFError:
        return None


def _typed_ahead(seconds: float) -> bool:
    """Whether another whole line comes within `seconds`: the rest of a paste the
    terminal did not bracket, which readline hands over one line at a time. (Between
    readline's reads the terminal is back in line mode, where only a whole line, or a
    Ctrl-D, makes stdin readable; a Ctrl-D alone holds no bytes.)"""
    try:  # POSIX only, as readline is: never called without it
        import fcntl
        import termios
    except ImportError:
        return False
    try:
        if not select.select([sys.stdin], [], [], seconds)[0]:
            return False
        pending = fcntl.ioctl(sys.stdin.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (OSError, ValueError):
        return False
    return int.from_bytes(pending, sys.byteorder) > 0


def _read_edited_message(prompt: str) -> _Line | None:
    """A line typed at `prompt`, and the lines pasted with it, as one."""
    line = _read_edited_line(prompt)
    while line is not None and _typed_ahead(PASTE_GAP_SECONDS):
        more = _read_edited_line("")
        if more is None:
            break
        line = _Line(line.text + more.text, line.undecodable or more.undecodable, False)
    return line


def _readline_prompt(console: Console, markup: str) -> str:
    """`markup` as the terminal shows it, its control sequences marked (\\001…\\002) for
    readline, which otherwise counts them as columns and redraws over the prompt."""
    with console.capture() as captured:
        console.print(markup, end="")
    return _CONTROL_SEQUENCE.sub(lambda code: f"\x01{code.group()}\x02", captured.get())


def _terminal_settings() -> list[Any] | None:
    """The terminal's settings before readline changes them (None where unknown)."""
    try:  # not on Windows, where readline is not either
        import termios
    except ImportError:
        return None
    try:
        return termios.tcgetattr(sys.stdin.fileno())
    except (OSError, ValueError, termios.error):
        return None


def _set_terminal(settings: list[Any] | None) -> None:
    try:
        import termios
    except ImportError:  # no settings were read then either
        return
    if settings is not None:
        with contextlib.suppress(OSError, ValueError, termios.error):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, settings)


class _Input:
    """Lines of stdin, read on a daemon thread; None at end of input. In a terminal
    each is read with readline's editing at the prompt asked for, else read ahead.

    Not asyncio's executor: on Ctrl-C asyncio.run waits for the executor's threads,
    and one blocked in readline held the console open until Enter was pressed."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lines: asyncio.Queue[_Line | None] = asyncio.Queue()
        self._ended = False
        # Whether the last message held bytes that were not text (see `_as_typed`),
        # and whether the terminal cut a line of it (see `_cut_by_terminal`).
        self.undecodable = False
        self.cut = False
        self.too_long = False  # and whether a line of it was over `MAX_INPUT_CHARS`
        loop = asyncio.get_running_loop()
        _lenient_stdin()
        self._edited = _line_editing()
        # With editing, each prompt asked for; readline then prints it.
        self._prompts: queue.SimpleQueue[str] = queue.SimpleQueue()

        def put(line: _Line | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._lines.put_nowait, line)

        def read_edited() -> None:
            line: _Line | None = _Line("\n", False, False)
            while line is not None:
                try:
                    line = _read_edited_message(self._prompts.get())
                except (OSError, ValueError):
                    line = None
                put(line)

        # Ctrl-C while readline reads (on its thread, which is not stopped) left the
        # terminal without echo after the exit: these are put back then.
        self._settings = _terminal_settings() if self._edited else None
        if self._edited:
            threading.Thread(target=read_edited, name="atri-console-input", daemon=True).start()
            return

        def read() -> None:
            line: _Line | None = _Line("\n", False, False)
            while line is not None:
                try:
                    line = _read_line()
                except (OSError, ValueError):
                    line = None
                put(line)

        threading.Thread(target=read, name="atri-console-input", daemon=True).start()

    async def message(self, pasted_together: bool, prompt: str | None = None) -> str | None:
        """The next line, after `prompt` (rich markup) where given, or with
        `pasted_together` the lines that arrive with it: a paragraph pasted into a
        terminal is one message, not one per line."""
        self.undecodable = self.cut = self.too_long = False
        if self._ended:
            return None
        if self._edited:
            self._prompts.put(_readline_prompt(self._console, prompt or ""))
            pasted_together = False  # its thread joins a paste's lines
        elif prompt:
            self._console.print(prompt, end="")
        try:
            first = await self._lines.get()
        except asyncio.CancelledError:  # Ctrl-C
            _set_terminal(self._settings)
            raise
        if first is None:
            self._ended = True
            return None
        lines = [first]
        while pasted_together:
            try:
                more = await asyncio.wait_for(self._lines.get(), PASTE_GAP_SECONDS)
            except TimeoutError:
                break
            if more is None:
                self._ended = True
                break
            lines.append(more)
        self.undecodable = any(line.undecodable for line in lines)
        self.cut = any(line.cut for line in lines)
        self.too_long = any(line.too_long for line in lines)
        return "".join(line.text for line in lines).rstrip("\n")


async def _answer(worker: Worker, request: ChatRequest, console: Console, name: str) -> Reply:
    """Her reply, a spinner meanwhile; past `STILL_THINKING_SECONDS` the spinner says how
    long it has waited and that Ctrl-C quits (a remote worker that hung kept a bare
    spinner up to `request_timeout_seconds` + 10 s before her error line)."""
    with spinning(console, f"{shown(name)} is thinking…") as status:
        asked = asyncio.ensure_future(worker.chat(request))
        started = time.monotonic()
        try:
            while not (await asyncio.wait({asked}, timeout=TICK_SECONDS))[0]:
                waited = time.monotonic() - started
                if waited >= STILL_THINKING_SECONDS:
                    status.update(
                        f"{shown(name)} is still thinking… {waited:.0f} s so far (Ctrl-C quits)"
                    )
        finally:
            asked.cancel()  # Ctrl-C: the request goes too (a no-op once answered)
        return asked.result()


async def run_console(
    worker: Worker,
    console: Console,
    user_name: str,
    character_name: str,
    greeting: str,
    history: list[tuple[str, str]],
    about: list[str] | None = None,
    command: str = DEFAULT_COMMAND,
) -> None:
    """The REPL. `history` is what memory held of this conversation at its start (role,
    text): with none, she greets; /history reads memory anew. `about` says what is
    running (`describe_worker`); `command` is the bots' command name (`[bot]
    command_name`), taken before the console's own commands too."""
    user_id = console_user_id()
    scope = ScopeRef(platform=PLATFORM, user_id=user_id)
    help_said = shown(help_line(command))
    for fact in about or []:
        console.print(f"[dim]{shown(fact)}[/dim]")
    console.print(f"[dim]{help_said}[/dim]")
    if not history and greeting:
        console.print(said(character_name, greeting))
    typed = _Input(console)
    interactive = _stdin_is_a_terminal()
    forget_asked_at: float | None = None  # when /forget was typed, awaiting its repeat
    while True:
        prompt = f"[bold cyan]{shown(user_name)}[/]: " if interactive else None
        line = await typed.message(pasted_together=interactive, prompt=prompt)
        if typed.undecodable:
            encoding = sys.stdin.encoding or "utf-8"
            console.print(f"[dim]{shown(UNDECODABLE_NOTE.format(encoding=encoding))}[/dim]")
        if typed.cut:
            console.print(f"[dim]{TERMINAL_CUT_NOTE}[/dim]")
        if line is None:
            break
        entered = visible_text(input_kept(line))
        if not entered:  # blank, or only zero-width characters: nothing to send
            continue
        asked_at, forget_asked_at = forget_asked_at, None  # only the next line confirms
        if entered.startswith("//"):
            # A message that begins with a slash (a path, "/me waves"): sent with one.
            line = line.replace("/", "", 1)
        else:
            as_typed = shown(command_as_typed(entered, command))
            entered = as_console_command(entered, command)
            name, *rest = entered.split(maxsplit=1)
            if name in COMMANDS and rest:
                # Never sent to her as a message: "/reset everything" meant the command.
                console.print(
                    f"[dim]{as_typed} takes nothing after it; type {as_typed} alone.[/dim]"
                )
                continue
            if entered in {"/quit", "/exit"}:
                break
            if entered == "/forget":
                if not _forget_confirmed(asked_at):
                    forget_asked_at = time.monotonic()
                    console.print(f"[dim]{shown(FORGET_ASK)}[/dim]")
                    continue
                try:
                    count = await worker.purge(scope)
                except UserError as exc:  # a remote worker away: say so, the chat goes on
                    console.print(f"[dim]{shown(str(exc))}[/dim]")
                    continue
                done = FORGET_DONE.format(
                    count=count, messages="message" if count == 1 else "messages"
                )
                console.print(f"[dim]{shown(done)}[/dim]")
                continue
            if entered == "/reset":
                try:
                    await worker.reset(scope)
                except UserError as exc:  # a remote worker away: say so, the chat goes on
                    console.print(f"[dim]{shown(str(exc))}[/dim]")
                    continue
                console.print(f"[dim]{shown(RESET_NOTE)}[/dim]")
                continue
            if entered == "/status":
                await _say_status(worker, console)
                continue
            if entered == "/history":
                await _say_history(worker, scope, console, (user_name, character_name))
                continue
            if entered == "/memory":  # as the bots' `/atri memory`: summary, recent turns
                await _say_remembered(worker, scope, console, (user_name, character_name))
                continue
            if entered == "/help":
                console.print(f"[dim]{help_said}[/dim]")
                continue
            if entered.startswith("/"):
                console.print(f"[dim]Unknown command {as_typed}. {help_said}[/dim]")
                continue
        if len(line) > MAX_INPUT_CHARS or typed.too_long:
            # As the bots do: a paste of a whole book held the worker for minutes.
            line = input_kept(line)
            console.print(f"[dim]{CUT_NOTE}[/dim]")
        request = ChatRequest(platform=PLATFORM, user_id=user_id, display_name=user_name, text=line)
        reply = await _answer(worker, request, console, character_name)
        console.print(said(character_name, reply.text))
        if reply.status == "rate_limited":
            # Her busy line alone read as a fault under many piped lines.
            console.print(f"[dim]{shown(RATE_LIMITED_NOTE)}[/dim]")
    console.print("[dim]Bye![/dim]")


def _forget_confirmed(asked_at: float | None) -> bool:
    """Whether `/forget` repeats the one typed on the line before, in time."""
    return asked_at is not None and time.monotonic() - asked_at <= FORGET_CONFIRM_SECONDS


async def _say_history(
    worker: Worker, scope: ScopeRef, console: Console, names: tuple[str, str]
) -> None:
    """This conversation as memory holds it now, read each time: another terminal may
    have purged it (`atri memory purge`) or written to it since. `names`: the user's
    and hers. A memory or a worker that cannot answer is one sentence; the chat goes on."""
    try:
        messages = await worker.history(scope)
    except UserError as exc:  # MemoryUnavailable too, as at the chat's start
        console.print(f"[dim]{shown(str(exc))}[/dim]")
        return
    if not messages:
        console.print("[dim](no messages yet)[/dim]")
    user_name, character_name = names
    for message in messages:
        who = character_name if message.role == "assistant" else user_name
        console.print(f"[dim]{shown(who)}: {shown(message.content)}[/dim]")


async def _say_remembered(
    worker: Worker, scope: ScopeRef, console: Console, names: tuple[str, str]
) -> None:
    """What she remembers, as the bots' `/atri memory` shows it: the rolling summary of
    the older messages, then the newest turns (`/history` shows stored messages only)."""
    try:
        found = await worker.remembered(scope)
    except UserError as exc:  # MemoryUnavailable too, as at the chat's start
        console.print(f"[dim]{shown(str(exc))}[/dim]")
        return
    if not found.summary and not found.turns:
        console.print("[dim](nothing remembered yet)[/dim]")
        return
    console.print("[dim]Summary of older messages:[/dim]")
    console.print(f"[dim]{shown(found.summary or '(none yet)')}[/dim]")
    user_name, character_name = names
    if found.turns:
        console.print("[dim]Recent turns:[/dim]")
    for turn in found.turns[-MEMORY_TURNS:]:
        who = character_name if turn.role == "assistant" else user_name
        console.print(f"[dim]{shown(who)}: {shown(turn.content)}[/dim]")


async def _say_status(worker: Worker, console: Console) -> None:
    """What the bots' `/atri status` tells: the engine, base model, live adapter version and
    the queue; a worker away is one sentence, and the chat goes on."""
    try:
        status = await worker.status()
    except UserError as exc:
        console.print(f"[dim]{shown(str(exc))}[/dim]")
        return
    said = (
        f"Engine {status.engine}, base model {status.base_model_name()}, adapter "
        f"{status.adapter_version or 'none'}, {status.queue_depth} waiting."
    )
    console.print(f"[dim]{shown(said)}[/dim]")

"""Ctrl-C in `atri`: one line, `Stopped (Ctrl-C).`, and status 130 (the shell's code for
SIGINT), promptly, from the entry point's first line on; never Python's traceback.

Ctrl-C is Python's KeyboardInterrupt only inside a command that undoes something on it
(`atri prep` puts the earlier files back, `atri train` names its checkpoint). Anywhere
else a KeyboardInterrupt lands in whatever library code runs: while `atri` imports,
pydantic-core turns one raised in its schema building into a SchemaError traceback, and
CPython marks one raised inside `exec` (dataclasses build their methods so) unhandled
even once it is caught, then ends `python -m atri` by SIGINT (status -2, not 130). So:

- until a command runs, and while `atri worker`, `serve` and `chat` import what they
  serve with and read their settings, Ctrl-C ends the process at once (`end_now`):
  nothing is open that would need closing;
- in their event loop (`cli_common.run_async`) the first Ctrl-C cancels the command's
  task, so its own cleanup runs (a spinner gives the cursor back, the service closes),
  then the line and 130 without waiting for a thread nobody can stop (a model still
  loading: minutes for a 7B one), else once the command's cleanup around the loop has
  run too (`atri eval --recall` removes its scratch folder); a second Ctrl-C ends at once;
- whichever way a command stopped, the process ends by `exit_stopped` once the cleanup
  around it has run too.

A polite kill (SIGTERM: `systemctl stop`, `docker stop`, `kill`), where a command handles
it (`run_async`, `sigterm_as_interrupt`), stops it as the first Ctrl-C does, but is said
as itself, `Stopped (SIGTERM).`. Its status is 143 (128 + 15, the shell's), as for any
command that did not finish its work: `atri prep ... && atri train` must not go on to a
dataset never written, nor a cron job count a stopped training as done. A service that
marks itself so (`serving`: `atri serve`, `worker`, `chat`) exits 0 instead: stopping is
all it is ever asked to do, and systemd marks a unit that exits 143 on `systemctl stop`
failed. A service takes SIGHUP (the ssh session it was started from closed, without
nohup) as SIGTERM, said as `Stopped (SIGHUP).`: by default it ended the process at once,
and the replies in flight with it, without a word. That terminal has hung up: a write to
it (the stop line, her reply in `atri chat`) fails with EIO, which ends the command as
the SIGHUP asked (`end_without_terminal`) instead of in a traceback to nowhere.

The entry point imports this before anything else, so it imports next to nothing: until
its handler is in place a Ctrl-C is Python's traceback (`signal` alone would import enum,
`typing` takes milliseconds of its own).
"""

from __future__ import annotations

import _signal  # signal's C half: the same functions, without importing enum
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, NoReturn

INTERRUPTED = "Stopped (Ctrl-C)."
# Also what a stopped command raises (typer.Exit) for the entry point to end it by
# `exit_stopped`, whichever signal stopped it.
STATUS = 130
TERMINATED = "Stopped (SIGTERM)."
TERMINATED_STATUS = 143  # 128 + SIGTERM: a command stopped before its work was done
SERVICE_TERMINATED_STATUS = 0  # a service stopped: what was asked of it
HUNG_UP = "Stopped (SIGHUP)."
# None where there is no such signal (Windows).
_SIGHUP: int | None = getattr(_signal, "SIGHUP", None)

_stop_signals: list[int] = []  # the first is the one that stopped the command
_service = False  # True once the running command said it is a service (`serving`)


def serving() -> None:
    """The running command is a service (`atri serve`, `worker`, `chat`): a SIGTERM that
    stops it ends it with status 0, not 143, and a SIGHUP stops it as SIGTERM does."""
    global _service
    _service = True
    _hangup_as_sigterm()


def _hangup_as_sigterm() -> None:
    """SIGHUP, from here on, goes to whatever handles SIGTERM at the time it comes (the
    service's stop, uvicorn's while the worker serves): uvicorn sets its own handlers
    for SIGINT and SIGTERM alone. Left as it is under nohup (ignored: asked to outlive
    the session), outside the main thread, and on Windows, which has no SIGHUP."""
    if _SIGHUP is None:
        return
    try:
        if _signal.getsignal(_SIGHUP) != _signal.SIG_IGN:
            _signal.signal(_SIGHUP, _as_sigterm)
    except ValueError:  # not the main thread
        pass


def _as_sigterm(signum: int, frame: FrameType | None) -> None:
    handler = _signal.getsignal(_signal.SIGTERM)
    if callable(handler):
        handler(signum, frame)  # noted as SIGHUP, so its line names it
    elif handler != _signal.SIG_IGN:  # SIGTERM's default ends the process, as SIGHUP's does
        _signal.signal(signum, _signal.SIG_DFL)
        _signal.raise_signal(signum)


def note_stop_signal(signum: int) -> None:
    """Remember the signal that stops the command (the first: a second only hurries it)."""
    if not _stop_signals:
        _stop_signals.append(signum)


def stop_signal_noted() -> bool:
    """Whether a stop signal was noted: a command that ends normally after one (the
    worker: uvicorn takes the signals while it serves) still says how it stopped."""
    return bool(_stop_signals)


def _terminated() -> bool:
    """Whether a polite kill stopped the command: SIGTERM, or SIGHUP taken as it."""
    return bool(_stop_signals) and _stop_signals[0] in (_signal.SIGTERM, _SIGHUP)


def stop_line() -> str:
    """`Stopped (Ctrl-C).`, or `Stopped (SIGTERM).` (`Stopped (SIGHUP).`) where a polite
    kill stopped it."""
    if not _terminated():
        return INTERRUPTED
    return HUNG_UP if _stop_signals[0] == _SIGHUP else TERMINATED


def stop_status() -> int:
    """130 for Ctrl-C; for SIGTERM 143, or 0 where a service (`serving`) was stopped
    (also by a SIGHUP, which only a service takes as SIGTERM)."""
    if not _terminated():
        return STATUS
    return SERVICE_TERMINATED_STATUS if _service else TERMINATED_STATUS


def lost_terminal(exc: BaseException) -> bool:
    """Whether `exc` is a read or write that failed because the terminal hung up (the
    ssh session closed): EIO while stdin, stdout or stderr is such a terminal, not a
    disk's EIO on a file while the terminal is there."""
    if isinstance(exc, BaseExceptionGroup):  # raised in a task group
        return all(lost_terminal(inner) for inner in exc.exceptions)
    import errno  # here: the entry point imports nothing before its Ctrl-C handler

    if not isinstance(exc, OSError) or exc.errno != errno.EIO:
        return False
    # A terminal that hung up answers even a look at its settings with EIO.
    return any(_settings_error(fd) == errno.EIO for fd in (0, 1, 2))


def _settings_error(fd: int) -> int | None:
    """The error number with which `fd` refuses a look at its terminal settings (a file
    or a pipe: ENOTTY), or None where it has them, or no descriptor."""
    try:
        import termios
    except ImportError:  # Windows: no terminals of this kind
        return None
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    except (OSError, ValueError):
        return None
    return None


def end_without_terminal() -> NoReturn:
    """End a command whose terminal hung up, saying nothing (nowhere to say it): with
    the status its SIGHUP asks for (a service's 0; `stop_status`) once the cleanup the
    error ran through is done, else 1, as for an I/O error. Not `sys.exit`: flushing
    what is buffered for that terminal at the interpreter's end fails again."""
    os._exit(stop_status() if stop_signal_noted() else 1)


def _flush_output() -> None:
    """What was printed before stays printed; a stream may be closed, or in the middle
    of the write a handler interrupted. (Not contextlib.suppress: not imported here.)"""
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105
            stream.flush()
        except (OSError, ValueError, RuntimeError, AttributeError):
            pass


def end_now(signum: int | None = None, frame: FrameType | None = None) -> NoReturn:
    """The line and status 130 (SIGTERM's, `stop_status`, where one stopped the
    command), now: no `finally` runs and no thread is waited for."""
    if signum is not None:
        note_stop_signal(signum)
    _flush_output()
    try:  # noqa: SIM105
        os.write(2, f"{stop_line()}\n".encode())
    except OSError:  # no stderr (pythonw)
        pass
    os._exit(stop_status())


def end_at_once() -> None:
    """From here on Ctrl-C is `end_now` (the entry point's first line)."""
    _signal.signal(_signal.SIGINT, end_now)


def exit_stopped() -> NoReturn:
    """Status 130 (after SIGTERM 143, or a service's 0: `stop_status`) for a command
    that Ctrl-C (or SIGTERM) stopped, once its cleanup ran and said so.
    Not `sys.exit`: after a KeyboardInterrupt left code that `exec` ran, CPython would end
    `python -m atri` by SIGINT instead; nor wait for a thread still running."""
    _flush_output()
    os._exit(stop_status())


class interruptions_held:  # named as used, like contextlib.suppress
    """Inside, Ctrl-C (and SIGTERM, where the process handles it, as `atri train` does: a
    polite kill) waits for the block's end, then does what it would have done (a
    KeyboardInterrupt, or `end_now`): for two steps that must not be cut apart (a version
    renamed into place, and the run's record that it is). Outside the main thread, whose
    signals are not set there, nothing changes.

    `pressed` lists the signals that came, for a block to look at before it ends. With
    `deliver_interrupt=False` a Ctrl-C (or SIGTERM) that came is only noted there: for
    work that was done by the time it came, which the caller then reports as done."""

    SIGNALS = (_signal.SIGINT, _signal.SIGTERM)

    def __init__(self, deliver_interrupt: bool = True) -> None:
        self.deliver_interrupt = deliver_interrupt
        self.pressed: list[int] = []

    def __enter__(self) -> interruptions_held:
        self.pressed = []
        self._previous: dict[int, Any] = {}
        for signum in self.SIGNALS:
            try:
                previous = _signal.getsignal(signum)
                if callable(previous):
                    _signal.signal(signum, self._note)
                    self._previous[signum] = previous
            except ValueError:  # not the main thread
                break
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if signum not in self.pressed:
            self.pressed.append(signum)

    def __exit__(self, *exc: object) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            _signal.signal(signum, handler)
        for signum in self.pressed:
            if not self.deliver_interrupt:
                continue
            if signum in previous:
                previous[signum](signum, None)


class sigterm_as_interrupt:  # named as used, like contextlib.suppress
    """Inside, a polite kill (SIGTERM: `kill`, systemd, `docker stop`) unwinds as Ctrl-C
    does, so a command's cleanup runs (`atri train` names its checkpoint, `atri prep`
    puts the earlier dataset back): by default SIGTERM ends Python at once, mid-move.
    Outside the main thread, whose signals are not set there, nothing changes."""

    def __enter__(self) -> sigterm_as_interrupt:
        self._previous: Any = None
        try:  # noqa: SIM105 (contextlib is not imported here)
            self._previous = _signal.signal(_signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            _signal.signal(_signal.SIGTERM, self._previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    note_stop_signal(signum)
    raise KeyboardInterrupt

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

Only stdlib here: the entry point imports this before anything slow.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import NoReturn

INTERRUPTED = "Stopped (Ctrl-C)."
STATUS = 130


def _flush_output() -> None:
    """What was printed before stays printed; a stream may be closed, or in the middle
    of the write a handler interrupted."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError, RuntimeError, AttributeError):
            stream.flush()


def end_now(signum: int | None = None, frame: FrameType | None = None) -> NoReturn:
    """The line and status 130, now: no `finally` runs and no thread is waited for."""
    _flush_output()
    with suppress(OSError):  # no stderr (pythonw)
        os.write(2, f"{INTERRUPTED}\n".encode())
    os._exit(STATUS)


def end_at_once() -> None:
    """From here on Ctrl-C is `end_now` (the entry point's first line)."""
    signal.signal(signal.SIGINT, end_now)


def exit_stopped() -> NoReturn:
    """Status 130 for a command that Ctrl-C stopped, once its cleanup ran and said so.
    Not `sys.exit`: after a KeyboardInterrupt left code that `exec` ran, CPython would end
    `python -m atri` by SIGINT instead; nor wait for a thread still running."""
    _flush_output()
    os._exit(STATUS)


@contextmanager
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

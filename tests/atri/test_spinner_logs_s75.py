"""Session 75 (a new user's `atri serve` in a terminal): a log line written while a
spinner turned ("Waking ATRI up…", "ATRI is thinking…") began at the spinner's column,
glued to its text, because rich's log handler prints to its own console (stderr) and
rich routes no other console's writes through a spinner. `spinning` prints such lines
through the spinner's console, above it. On a real pseudo-terminal, as a person sees it."""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import sys
import time
from collections.abc import Iterator

import pytest
from rich.console import Console
from rich.logging import RichHandler

from atri.terminal import spinning

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")

LOGGED = "adapter reload job: every 60 s"


@pytest.fixture
def terminal() -> Iterator[tuple[Console, Console, int]]:
    """A console for stdout and one for stderr on one pseudo-terminal, as a shell has
    them; rich's handler on the root logger printing to the stderr one; the pty's other
    end, to read what the screen got."""
    controller, screen = pty.openpty()
    out = open(os.dup(screen), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    err = open(os.dup(screen), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    os.close(screen)
    stdout = Console(file=out, force_terminal=True, width=100)
    stderr = Console(file=err, force_terminal=True, width=100)
    handler = RichHandler(console=stderr, show_time=False, show_level=False, show_path=False)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stdout, stderr, controller
    finally:
        root.removeHandler(handler)
        out.close()
        err.close()
        os.close(controller)


def shown(controller: int) -> str:
    """What reached the screen, without colours and line clearing (rich colours the
    numbers in a log line)."""
    seen = b""
    while select.select([controller], [], [], 0.2)[0]:
        seen += os.read(controller, 65536)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", errors="replace"))


def line_before(screen: str, text: str) -> str:
    """What the screen line holding `text` shows before it (from its last \\r or \\n)."""
    at = screen.index(text)
    return screen[max(screen.rfind("\n", 0, at), screen.rfind("\r", 0, at)) + 1 : at]


def test_a_line_logged_while_the_spinner_turns_starts_its_own_line(
    terminal: tuple[Console, Console, int],
) -> None:
    stdout, stderr, controller = terminal
    with spinning(stdout, "Waking ATRI up (loading the model)…"):
        time.sleep(0.3)  # the spinner is drawn
        logging.getLogger("tests.spinner_logs").warning(LOGGED)
        time.sleep(0.3)
    screen = shown(controller)
    assert "Waking ATRI up" in screen and LOGGED in screen
    assert line_before(screen, LOGGED).strip() == "", repr(screen)
    logging.getLogger("tests.spinner_logs").warning("after it")
    assert "after it" in shown(controller)
    assert [h.console for h in logging.getLogger().handlers if isinstance(h, RichHandler)] == [
        stderr
    ]  # the handler prints to its own console again

"""Session 76, three review items.

- `atri train` stopped short of its planned steps (early stopping) ended its plain lines
  (in a file, a pipe, a journal) with "0:00:07 left", as if it went on: the real trainer
  on the tiny model.
- atri/interrupt.py imported errno in two functions: one place now, and `lost_terminal`
  still tells a real hung-up pseudo-terminal from a disk's EIO.
- `atri.terminal.spinning` lent the root logger's rich handler to two overlapping (not
  nested) spinners and handed it back in nesting order: the handler stayed on the first
  spinner's console after both ended, and went back to its own while the second still
  turned. On real pseudo-terminals.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import logging
import os
import pty
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.logging import RichHandler

import atri.interrupt
from atri.terminal import spinning
from tests.atri.test_ctrl_c_at_start_s41 import ENV
from tests.model.test_training_lines_s75 import StopAt, run, said

# Item 1: a run of 8 steps that early stopping ends (a learning rate that wrecks the
# adapter, so the held-out loss soon stops improving, and a patience of 1).
DIVERGING = {"max_steps": 8, "learning_rate": 50.0, "early_stopping_patience": 1}


def test_a_run_early_stopping_ends_says_so_in_its_last_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    lines, _, result = run(tmp_path, tiny_model_dir, **DIVERGING)
    step = result.steps
    assert step < 8, lines  # stopped early, not by its 8 steps
    last = said(lines[-1])
    assert last.startswith(f"training {step}/8 "), lines
    assert " left" not in last and "done in" not in last, lines
    assert f", stopped early at step {step} of 8 (held-out loss no longer improving)" in last
    assert last.endswith(f"; checkpoint saved at step {step}"), lines  # still said, once
    assert sum(f"checkpoint saved at step {step}" in line for line in lines) == 1, lines


def test_a_run_stopped_short_between_evals_says_so_in_its_last_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Stopped at step 3 of 4 without early stopping on (a callback asked): no reason
    that is not so, and nothing after the last line."""
    lines, _, result = run(tmp_path, tiny_model_dir, StopAt(3), early_stopping_patience=0)
    assert result.steps == 3
    last = said(lines[-1])
    assert last.startswith("training 3/4 ") and last.endswith(", stopped early at step 3 of 4")
    assert all(" left" not in said(line) for line in lines if " 3/4 " in line), lines


def test_a_run_that_does_all_its_steps_is_not_stopped_early(whole_run: Any) -> None:
    lines, _, _ = whole_run
    assert "done in" in lines[-1] and not any("stopped early" in line for line in lines)


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Any:
    return run(tmp_path_factory.mktemp("whole-run"), tiny_model_dir)


# Item 2.


def test_errno_is_imported_in_one_place_in_interrupt() -> None:
    tree = ast.parse(inspect.getsource(atri.interrupt))
    imports = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import) and any(alias.name == "errno" for alias in node.names)
    ]
    assert len(imports) == 1


def test_a_hung_up_terminal_is_lost_and_a_disks_eio_is_not() -> None:
    """The child's stdin and stdout are files (no terminal settings: ENOTTY), its stderr
    a pseudo-terminal whose other end is closed: hung up."""
    script = (
        "import errno; from atri.interrupt import lost_terminal; "
        "eio = OSError(errno.EIO, 'Input/output error'); "
        "print(lost_terminal(eio), lost_terminal(ExceptionGroup('g', [eio])), "
        "lost_terminal(OSError(errno.ENOSPC, 'No space left on device')))"
    )
    controller, terminal = pty.openpty()
    os.close(controller)  # hung up before the child looks
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=True,
        )
    finally:
        os.close(terminal)
    assert done.stdout.split() == [b"True", b"True", b"False"]


def test_a_file_or_a_pipe_is_not_a_lost_terminal() -> None:
    script = (
        "import errno; from atri.interrupt import lost_terminal; "
        "print(lost_terminal(OSError(errno.EIO, 'Input/output error')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == [b"False"], done.stderr


# Item 3.


@pytest.fixture
def terminal() -> Iterator[tuple[list[Console], RichHandler]]:
    """Three consoles on one pseudo-terminal (stdout, and two more a command might spin
    on), and rich's handler on the root logger printing to a fourth, its own (stderr)."""
    controller, screen = pty.openpty()
    files = [open(os.dup(screen), "w", encoding="utf-8") for _ in range(4)]  # noqa: SIM115
    os.close(screen)
    consoles = [Console(file=file, force_terminal=True, width=100) for file in files]
    handler = RichHandler(console=consoles[3], show_time=False, show_path=False)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield consoles[:3], handler
    finally:
        root.removeHandler(handler)
        for file in files:
            file.close()
        os.close(controller)


def test_overlapping_spinners_hand_the_handler_to_the_one_still_turning(
    terminal: tuple[list[Console], RichHandler],
) -> None:
    (first, second, _), handler = terminal
    own = handler.console
    with contextlib.ExitStack() as two_turning, contextlib.ExitStack() as one_turning:
        one_turning.enter_context(spinning(first, "Waking ATRI up…"))
        assert handler.console is first
        two_turning.enter_context(spinning(second, "ATRI is thinking…"))
        assert handler.console is second
        time.sleep(0.1)
        one_turning.close()  # the first ends while the second turns
        assert handler.console is second
        two_turning.close()
        assert handler.console is own


def test_nested_spinners_still_hand_it_back_in_turn(
    terminal: tuple[list[Console], RichHandler],
) -> None:
    (first, second, third), handler = terminal
    own = handler.console
    with spinning(first, "one…"):
        with spinning(second, "two…"):
            with spinning(third, "three…"):
                assert handler.console is third
            assert handler.console is second
        assert handler.console is first
    assert handler.console is own

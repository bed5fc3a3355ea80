"""Session 76: a piped `atri train` said nothing between its logging and eval steps: on a
loaded 2-core box a 2-step run went 9 and then 15 minutes without a line. The bar's
keep-alive now says "still at it" once the plain lines were quiet that long, in a file
only, and stops with the run, Ctrl-C included. Real runs on the tiny model, its steps
slowed, with a quiet limit of 0.2 s."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from transformers import TrainerCallback

from atri.config import load_settings
from model.training.progress import RichProgress
from model.training.runner import train
from tests.model.training.test_train_eval import write_config

QUIET_LIMIT = 0.2


class SlowSteps(TrainerCallback):  # type: ignore[misc]
    """Each step takes `seconds` longer: a loaded machine's."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        time.sleep(self.seconds)


class CtrlCAt(TrainerCallback):  # type: ignore[misc]
    """Ctrl-C once `step` is done: the Trainer then calls no `on_train_end`."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.step:
            raise KeyboardInterrupt


def run(tmp_path: Path, model_dir: Path, console: Console, *callbacks: Any) -> RichProgress:
    """A 2-step run whose steps take 0.7 s, with no line between its first and its last
    but the keep-alive's (no logging or eval step before the end)."""
    config = write_config(
        tmp_path,
        model_dir,
        max_steps=2,
        logging_steps=5,
        eval_steps=5,
        early_stopping_patience=0,
        batch_size=2,
        gradient_accumulation=1,
        target_modules=["q_proj"],
    )
    bar = RichProgress(console, quiet_limit=QUIET_LIMIT)
    train(load_settings(config), callbacks=[bar, SlowSteps(0.7), *callbacks])
    return bar


def file_console() -> Console:
    return Console(file=io.StringIO(), width=300, force_terminal=False)


def lines_of(console: Console) -> list[str]:
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def keep_alive_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "progress-keep-alive"]


def test_a_run_to_a_file_says_still_at_it_while_a_step_runs_on(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    console = file_console()
    bar = run(tmp_path, tiny_model_dir, console)
    lines = lines_of(console)
    still = [line for line in lines if "still at it" in line]
    assert any(" training 0/2 " in line for line in still), lines
    assert any(" training 1/2 " in line for line in still), lines
    assert all(line.endswith(" into this step") for line in still), still
    assert any("still at it, 0:00:0" in line for line in still), still
    # Not once all steps are done: the end's line alone, without the note.
    assert "done in" in lines[-1] and "still" not in lines[-1], lines
    assert bar.bar.watcher is None and not keep_alive_threads()


def test_ctrl_c_stops_the_keep_alive_with_the_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    console = file_console()
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, tiny_model_dir, console, CtrlCAt(1))
    assert not keep_alive_threads()
    said = console.file.getvalue()  # type: ignore[attr-defined]
    time.sleep(3 * QUIET_LIMIT)
    assert console.file.getvalue() == said  # type: ignore[attr-defined]  # nothing after


def test_a_run_on_a_terminal_shows_the_bar_alone(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    console = Console(file=io.StringIO(), width=300, force_terminal=True)
    bar = run(tmp_path, tiny_model_dir, console)
    assert "still at it" not in console.file.getvalue()  # type: ignore[attr-defined]
    assert bar.bar.watcher is None

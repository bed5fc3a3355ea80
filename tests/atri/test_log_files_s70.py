"""Session 70: what an operator reads in a log file. `atri train` and `atri eval` sent to
a file wrote no progress until they ended (rich draws its bar there only as it stops,
never when interrupted); the address NapCat must connect to and the worker's descriptor
limit were hidden at the levels README names; `-v` added two APScheduler lines a minute."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

import model.progress_bar as progress_bar
from atri import cli
from model.evaluation.progress import RichProbeProgress
from model.training.progress import RichProgress
from tests.model.training.test_train_eval import InterruptAt, write_config

DATED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} ")


def file_console() -> Console:
    """A console writing to a file, as `atri train >train.log 2>&1` has."""
    return Console(file=io.StringIO(), width=200, force_terminal=False)


def written(console: Console) -> list[str]:
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\r" not in text and "\x1b" not in text  # no bar redrawn, no colours
    return text.splitlines()


class Clock:
    """`monotonic` for the bar, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_training_to_a_file_says_each_logged_step_and_checkpoint_as_it_goes(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted at step 3, the file held nothing: the bar was to print at the end."""
    from atri.config import load_settings
    from model.training.runner import train

    monkeypatch.setattr(progress_bar, "PLAIN_LINE_SECONDS", 0.0)  # a line at each step here
    config = write_config(
        tmp_path,
        tiny_model_dir,
        max_steps=5,
        eval_steps=2,
        logging_steps=1,
        gradient_accumulation=1,
        target_modules=["q_proj"],
    )
    console = file_console()
    with pytest.raises(KeyboardInterrupt):
        train(load_settings(config), callbacks=[RichProgress(console), InterruptAt(3)])
    lines = written(console)
    assert all(DATED.match(line) for line in lines), lines
    assert lines[0].endswith("training 0/5 loss - eval - - tok/s")
    [checkpoint] = [line for line in lines if "checkpoint" in line]
    assert re.search(r" training 2/5 loss \d\.\d{3} eval \d\.\d{3} [\d,]+ tok/s, ", checkpoint)
    assert checkpoint.endswith(" left; checkpoint saved at step 2")
    assert checkpoint == lines[-1]  # step 3 was interrupted before it was logged


def test_a_long_run_to_a_file_writes_a_line_every_30_seconds_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """8,000 logged steps of 1/8 s: not 8,000 lines, but one each 30 s and the last."""
    clock = Clock()
    monkeypatch.setattr(progress_bar, "monotonic", clock)
    console = file_console()
    bar = RichProgress(console)
    state = SimpleNamespace(max_steps=8000, global_step=0, num_input_tokens_seen=0)
    state.log_history = []
    bar.on_train_begin(None, state, None)
    for step in range(1, 8001):
        clock.now += 0.125
        state.global_step = step
        bar.on_step_end(None, state, None)
        bar.on_log(None, state, None, logs={"loss": 1.0})
        if step % 480 == 0:  # a checkpoint a minute
            bar.on_save(None, state, None)
    bar.on_train_end(None, state, None)
    lines = written(console)
    assert len(lines) == 35  # 1,000 s of training: the first line, one each 30 s, the last
    assert lines[10].endswith(" training 2400/8000 loss 1.000 eval - 0 tok/s, 0:11:40 left")
    # Saved after that step's line: said with the next.
    assert lines[11].endswith(", 0:11:10 left; checkpoint saved at step 2400")
    assert lines[-1].endswith(" training 8000/8000 loss 1.000 eval - 0 tok/s, done in 0:16:40")


def test_eval_to_a_file_says_the_replies_done_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_bar, "monotonic", clock)
    console = file_console()
    bar = RichProbeProgress(console)
    bar.start(40)
    bar.phase("base: probes")
    for _ in range(20):
        clock.now += 10  # a batch of two replies
        bar.advance(2)
    said = written(console)
    assert said[-1].endswith(" base: probes 36/40 replies, 0:00:20 left")
    bar.stop()
    assert written(console)[-1].endswith(" base: probes 40/40 replies, done in 0:03:20")


def test_on_a_terminal_the_bar_is_richs_own() -> None:
    console = Console(file=io.StringIO(), width=200, force_terminal=True)
    bar = RichProgress(console)
    state = SimpleNamespace(max_steps=4, global_step=4, num_input_tokens_seen=0, log_history=[])
    bar.on_train_begin(None, state, None)
    bar.on_save(None, state, None)
    bar.on_train_end(None, state, None)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "━" in text and "4/4" in text
    assert "checkpoint saved" not in text and not DATED.match(text)


@pytest.fixture
def logger_levels() -> Iterator[None]:
    """The levels `atri`'s `main` sets, put back after the test."""
    names = [
        *cli.TOLD_LOGGERS,
        *cli.PER_RUN_LOGGERS,
        "transformers",
        "httpx",
        "peft",
        "apscheduler.executors.default",
    ]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_the_address_napcat_must_connect_to_is_shown_without_verbose(
    caplog: pytest.LogCaptureFixture, logger_levels: None
) -> None:
    from bot.qq import runner

    caplog.set_level(logging.WARNING)  # the root level `atri` without -v sets
    cli.main(config=None, verbose=False)
    assert runner.log.isEnabledFor(logging.INFO)


def test_verbose_worker_logs_its_descriptor_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, logger_levels: None
) -> None:
    """README: "`atri -v worker` logs it"; it was logged at DEBUG, under -v's INFO."""
    import resource

    from model.server import slow_clients

    monkeypatch.setattr(resource, "getrlimit", lambda which: (20000, 20000))
    caplog.set_level(logging.INFO)  # the root level `atri -v` sets
    cli.main(config=None, verbose=True)
    slow_clients.raise_open_file_limit()
    assert "open descriptor limit: 20000 (hard 20000)" in caplog.messages


def test_verbose_logs_no_line_for_each_run_of_the_reload_job(
    caplog: pytest.LogCaptureFixture, logger_levels: None
) -> None:
    """ "Running job …" and "Job … executed successfully" came every minute under -v."""
    from model.adapters import reload
    from model.adapters.reload_schedule import ReloadSchedule

    looks: list[int] = []

    async def look() -> None:
        looks.append(1)

    async def run_for_a_look() -> None:
        schedule = ReloadSchedule(look, 1, reload._scheduler_log)
        schedule.start()
        try:
            for _ in range(40):
                await asyncio.sleep(0.1)
                if looks:
                    await asyncio.sleep(0.2)  # its "executed successfully" line
                    break
        finally:
            schedule.stop()

    caplog.set_level(logging.INFO)  # the root level `atri -v` sets
    cli.main(config=None, verbose=True)
    asyncio.run(run_for_a_look())
    assert looks
    assert not [m for m in caplog.messages if "Running job" in m or "executed successfully" in m]
    assert "Scheduler started" in caplog.messages  # its start and stop stay with -v

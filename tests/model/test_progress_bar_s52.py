"""`atri train` and `atri eval` draw their bars from one layout (model.progress_bar); each
still shows what it showed: the heading, done/total, its own fields and the times."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn, TimeRemainingColumn

from model.evaluation.progress import RichProbeProgress
from model.progress_bar import rich_bar
from model.training.progress import RichProgress


def recording_console() -> Console:
    return Console(record=True, width=200, force_terminal=False)


def test_the_shared_layout_frames_the_fields_with_the_bar_and_the_times() -> None:
    bar = rich_bar(recording_console(), "work", "a {task.fields[a]}", "b")
    kinds = [type(column) for column in bar.columns]
    assert kinds[1:3] == [BarColumn, MofNCompleteColumn]
    assert kinds[-2:] == [TimeElapsedColumn, TimeRemainingColumn]
    texts = [column.text_format for column in bar.columns[:1] + bar.columns[3:5]]
    assert texts == ["[bold]work", "a {task.fields[a]}", "b"]


def test_the_eval_bar_shows_the_phase_and_the_replies_done() -> None:
    console = recording_console()
    bar = RichProbeProgress(console)
    bar.start(6)
    bar.phase("adapter: probes")
    bar.advance(4)
    bar.stop()
    line = console.export_text().strip().splitlines()[-1].split(" ", 2)[2]  # after its date
    assert line.startswith("adapter: probes")
    assert "4/6 replies" in line


def test_the_training_bar_shows_step_losses_and_speed() -> None:
    console = recording_console()
    bar = RichProgress(console)
    state = SimpleNamespace(
        max_steps=10, global_step=3, num_input_tokens_seen=0, log_history=[{"loss": 1.23456}]
    )
    bar.on_train_begin(None, state, None)
    bar.on_log(None, state, None, logs={"eval_loss": 2.5})
    bar.on_train_end(None, state, None)
    line = console.export_text().strip().splitlines()[-1].split(" ", 2)[2]  # after its date
    assert line.startswith("training")
    assert "3/10 loss 1.235 eval 2.500 - tok/s" in line

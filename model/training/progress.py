"""Trainer callbacks: a tokens/s meter and the progress bar of `atri train` (plain lines in
a file), and the last step's loss logged."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from transformers import TrainerCallback

from model.progress_bar import PLAIN_LINE_SECONDS, Bar


class ThroughputMeter(TrainerCallback):  # type: ignore[misc]
    """Real (non-padding) tokens per second over this session's training steps."""

    def __init__(self) -> None:
        self.start_time = 0.0
        self.start_tokens = 0
        self.tokens = 0
        self.seconds = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start_time = time.perf_counter()
        self.start_tokens = int(state.num_input_tokens_seen or 0)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.tokens = int(state.num_input_tokens_seen or 0) - self.start_tokens
        self.seconds = time.perf_counter() - self.start_time

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


class LastStepLogged(TrainerCallback):  # type: ignore[misc]
    """The train loss logged at the last step too, not only every `logging_steps`: the
    run's final train loss (manifest, summary) is of its last logged steps, and a run
    shorter than `logging_steps` had only its first, untrained step's logged."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.max_steps and state.global_step >= state.max_steps:
            control.should_log = True


class TrainingBar(Bar):
    """`Bar` whose plain line, once the run is to end short of its planned steps (early
    stopping), says so where the time left stood: "0:00:07 left" on the last line of a
    run that had ended read as if it went on."""

    def __init__(self, console: Any, heading: str, *fields: str) -> None:
        super().__init__(console, heading, *fields, stage="step")
        self.stopped = ""  # "stopped early at step 4 of 8 (…)", once the run is to end

    def _state(self) -> str:
        # Part of the state, not a note: a line already printed at the last step without
        # it is news, and `stop` prints the line that says it.
        state = super()._state()
        return f"{state}, {self.stopped}" if self.stopped else state

    def _time_left(self, now: float) -> str:
        return "" if self.stopped else super()._time_left(now)


class RichProgress(ThroughputMeter):
    """Step bar with the latest train loss, held-out loss and tokens/s; in a file or a
    journal, a plain line at logging and eval steps (at most one every 30 s) that says
    when a checkpoint was saved, and, at the end of a run stopped early, that it was;
    between them, "still at it" once none came for `quiet_limit` seconds (`Bar`'s
    keep-alive): a 2-step run on a loaded box said nothing for 15 minutes."""

    def __init__(self, console: Any, quiet_limit: float = PLAIN_LINE_SECONDS) -> None:
        super().__init__()
        self.quiet_limit = quiet_limit
        self.bar = TrainingBar(
            console,
            "training",
            "loss {task.fields[loss]}",
            "eval {task.fields[eval]}",
            "{task.fields[speed]} tok/s",
        )
        # Each loss field of the bar: its latest value logged, and the step it was logged at.
        self.logged: dict[str, tuple[float, int | None]] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        super().on_train_begin(args, state, control, **kwargs)
        self.bar.start(
            "train",
            total=state.max_steps,
            completed=state.global_step,
            loss="-",
            eval="-",
            speed="-",
            keep_alive=self.quiet_limit,
        )
        # Resumed: the losses logged before the interruption, until the next ones (the
        # bar showed "loss -" to the end of a run resumed after its last logged step).
        for logs in state.log_history or []:
            self._keep_losses(logs, logs.get("step"))
        self._show_losses(state.global_step)
        self.bar.tell()  # in a file: that training began, and where from

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        super().on_step_end(args, state, control, **kwargs)
        with self.bar.lock:  # one change: the watcher sees the next step whole
            self.bar.begin_stage()
            self.bar.update(completed=state.global_step, speed=f"{self.tokens_per_second:,.0f}")
            self._show_losses(state.global_step)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if logs:
            self._note_stop(args, state, control)
            self._keep_losses(logs, state.global_step)
            self._show_losses(state.global_step)
            self.bar.tell()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._note_stop(args, state, control)
        self.bar.tell(f"checkpoint saved at step {state.global_step}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._note_stop(args, state, control)
        self.bar.stop()

    def _note_stop(self, args: Any, state: Any, control: Any) -> None:
        """The bar's lines say so once the run is to end before its planned steps: a
        callback (early stopping, once the held-out loss stopped improving) asked it to.
        Early stopping decides after the eval's line, before the step's checkpoint and the
        run's end, whose lines then say it."""
        # No control: called by hand, not by a Trainer.
        stopping = control is not None and control.should_training_stop
        if stopping and state.global_step < state.max_steps:
            # load_best_model_at_end is on with early stopping alone (runner.py).
            why = " (held-out loss no longer improving)" if args.load_best_model_at_end else ""
            self.bar.stopped = (
                f"stopped early at step {state.global_step} of {state.max_steps}{why}"
            )

    def _keep_losses(self, logs: dict[str, Any], step: int | None) -> None:
        for key, field in (("loss", "loss"), ("eval_loss", "eval")):
            if key in logs:
                self.logged[field] = (float(logs[key]), step)

    def _show_losses(self, step: int) -> None:
        """The latest losses; in a plain line, one logged at an earlier step says which:
        "training 2/4 loss 3.679" read as step 2's loss when it was step 1's (a line comes
        at an eval or a checkpoint too, not only where `logging_steps` logs a loss). The
        bar on a terminal shows it as it changes, unmarked."""
        for field, (loss, logged_at) in self.logged.items():
            text = f"{loss:.3f}"
            if not self.bar.live and logged_at is not None and logged_at < step:
                text += f" (step {logged_at})"
            self.bar.update(**{field: text})


@contextmanager
def keep_alive_stopped(callbacks: Iterable[Any]) -> Iterator[None]:
    """The progress bars' keep-alive watchers stopped however training ends: on an
    exception (Ctrl-C) the Trainer calls no `on_train_end`, and the watcher said "still at
    it" after the run had ended."""
    try:
        yield
    finally:
        for callback in callbacks:
            # By its bar, not its class: a test stands in for RichProgress.
            bar = getattr(callback, "bar", None)
            if isinstance(bar, Bar):
                bar.stop_keep_alive()

"""Trainer callbacks: a tokens/s meter and the rich progress bar of `atri train`, and the
last step's loss logged."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from model.progress_bar import rich_bar


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


class RichProgress(ThroughputMeter):
    """Step bar with the latest train loss, held-out loss and tokens/s."""

    def __init__(self, console: Any) -> None:
        super().__init__()
        self.progress = rich_bar(
            console,
            "training",
            "loss {task.fields[loss]}",
            "eval {task.fields[eval]}",
            "{task.fields[speed]} tok/s",
        )
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        super().on_train_begin(args, state, control, **kwargs)
        self.progress.start()
        self.task = self.progress.add_task(
            "train",
            total=state.max_steps,
            completed=state.global_step,
            loss="-",
            eval="-",
            speed="-",
        )
        # Resumed: the losses logged before the interruption, until the next ones (the
        # bar showed "loss -" to the end of a run resumed after its last logged step).
        for logs in state.log_history or []:
            self.on_log(args, state, control, logs=logs)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        super().on_step_end(args, state, control, **kwargs)
        self.progress.update(
            self.task, completed=state.global_step, speed=f"{self.tokens_per_second:,.0f}"
        )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if self.task is None or not logs:
            return
        if "loss" in logs:
            self.progress.update(self.task, loss=f"{logs['loss']:.3f}")
        if "eval_loss" in logs:
            self.progress.update(self.task, eval=f"{logs['eval_loss']:.3f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.progress.stop()

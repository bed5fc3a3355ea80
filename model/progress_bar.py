"""The progress `atri train` (over steps) and `atri eval` (over probe replies) show: one
layout, so the two read alike. On a terminal it is rich's bar; in a file or a journal,
where rich draws a bar only once, when it stops (and never when the run is
interrupted), it is a dated plain line now and then (`Bar`)."""

from __future__ import annotations

import threading
from datetime import timedelta
from time import monotonic, strftime
from typing import Any

# At most one plain line this often: a run of 10,000 steps logs far fewer lines.
PLAIN_LINE_SECONDS = 30.0
# Dated as atri's log lines in a file are (atri/cli.py `_log_handler`), to read beside them.
PLAIN_LINE_TIME = "%Y-%m-%d %H:%M:%S%z"
# How often the keep-alive watcher looks whether the plain lines have been quiet too long.
WATCH_SECONDS = 1.0


def rich_bar(console: Any, heading: str, *fields: str) -> Any:
    """A `rich.progress.Progress` on `console`: `heading` in bold, the bar, done/total,
    then each of `fields` (rich column templates such as "loss {task.fields[loss]}"),
    the time elapsed and the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{heading}"),
        BarColumn(),
        MofNCompleteColumn(),
        *(TextColumn(field) for field in fields),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def redraws(console: Any) -> bool:
    """Whether rich redraws a bar in place on `console`: a terminal, and not a dumb one."""
    return bool(console.is_terminal and not console.is_dumb_terminal)


class Bar:
    """One task's progress on `console`: rich's bar (`rich_bar`) where rich redraws it.
    Elsewhere a plain dated line at each `tell`, at most one every PLAIN_LINE_SECONDS, and
    the last at `stop`: under nohup or systemd an hours-long run looked hung otherwise.
    Started with `keep_alive`, a plain line also comes whenever none came for that long
    while work remains ("still at it, 0:01:30 into this step"): a step, the loading of a
    model or a batch of replies takes minutes on a loaded machine, and a piped `atri
    train` or `atri eval` said nothing all that while. `stage` names what that time is
    into; `begin_stage` says when one begins."""

    def __init__(self, console: Any, heading: str, *fields: str, stage: str = "stage") -> None:
        self.console = console
        self.heading = heading
        self.fields = fields
        self.stage = stage
        self.progress = rich_bar(console, heading, *fields)
        self.live = redraws(console)
        self.task: Any = None
        self.begun = (0.0, 0.0)  # the clock and the count done at `start`
        self.told_at: float | None = None
        self.told = ""  # the last plain line, without its date and time left
        self.note = ""  # said with the next plain line
        # The keep-alive watcher tells the bar too: one line at a time, whole. Reentrant,
        # so that a caller can hold it over several calls that make one change.
        self.lock = threading.RLock()
        self.stage_began = 0.0
        self.stopping = threading.Event()
        self.watcher: threading.Thread | None = None

    def start(
        self,
        description: str,
        total: float,
        completed: float = 0,
        keep_alive: float | None = None,
        **fields: Any,
    ) -> None:
        with self.lock:
            if self.live:
                self.progress.start()
            self.task = self.progress.add_task(
                description, total=total, completed=completed, **fields
            )
            self.begun = (monotonic(), completed)
            self.stage_began = self.begun[0]
        if keep_alive is not None and not self.live:
            self.stopping.clear()
            self.watcher = threading.Thread(
                target=self._keep_alive, args=(keep_alive,), name="progress-keep-alive", daemon=True
            )
            self.watcher.start()

    def begin_stage(self) -> None:
        """A new stage (a step, a loading) begins: "still at it" counts from here."""
        with self.lock:
            self.stage_began = monotonic()

    def update(self, **changes: Any) -> None:
        with self.lock:
            if self.task is not None:
                self.progress.update(self.task, **changes)

    def advance(self, amount: float) -> None:
        with self.lock:
            if self.task is not None:
                self.progress.advance(self.task, amount)

    def tell(self, note: str = "", at_once: bool = False) -> None:
        """A plain line of where it stands, where it says anything new, unless one came
        under PLAIN_LINE_SECONDS ago (`at_once`: however recent) or all is done; `note`
        goes with the next line printed (a later note replaces it). Once all is done the
        line is `stop`'s alone: the work after the last step (the final eval, the
        checkpoint) comes before it, and the line said "done in" before them, then again
        after."""
        with self.lock:
            if self.live or self.task is None:
                return
            self.note = note or self.note
            now = monotonic()
            due = at_once or self.told_at is None or now - self.told_at >= PLAIN_LINE_SECONDS
            if due and self._news() and not self._all_done():
                self._print_line(now)

    def quiet_for(self) -> float:
        """Seconds since the last plain line, or since `start` before the first."""
        return monotonic() - (self.begun[0] if self.told_at is None else self.told_at)

    def stop(self) -> None:
        """rich's bar stopped; or the last plain line, where it says anything new. Nothing
        is told after it (an eval once training ended repeated the last line)."""
        self.stop_keep_alive()
        with self.lock:
            if self.live:
                self.progress.stop()
            elif self.task is not None and self._news():
                self._print_line(monotonic())
            self.task = None

    def stop_keep_alive(self) -> None:
        """The keep-alive watcher stopped and gone; also where a run ends by an exception
        (Ctrl-C), which does not `stop` the bar, so that it says nothing after the run."""
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.join()
            self.watcher = None

    def _keep_alive(self, quiet_limit: float) -> None:
        """Until `stop_keep_alive`: a line saying the stage still runs, once the plain lines
        have been quiet for `quiet_limit` seconds. Not once all is done: the bar then says
        no more until `stop`'s line, which would carry the note. A note not yet said (a
        checkpoint saved) goes with it."""
        while not self.stopping.wait(min(WATCH_SECONDS, quiet_limit / 4)):
            with self.lock:
                if self.task is None or self._all_done() or self.quiet_for() < quiet_limit:
                    continue
                took = timedelta(seconds=round(monotonic() - self.stage_began))
                still = f"still at it, {took} into this {self.stage}"
                self.tell(f"{self.note}; {still}" if self.note else still, at_once=True)

    def _news(self) -> bool:
        """A note to say, or a state other than the last line's (the same line twice was
        the run's end: a checkpoint's line, then the one of the train metrics logged)."""
        return bool(self.note) or self._state() != self.told

    def _all_done(self) -> bool:
        task = self.progress.tasks[0]
        return task.total is not None and task.completed >= task.total

    def _state(self) -> str:
        task = self.progress.tasks[0]
        counts = f"{task.completed:.0f}/{task.total:.0f}"
        shown = [template.format(task=task) for template in self.fields]
        return " ".join([self.heading.format(task=task), counts, *shown])

    def _time_left(self, now: float) -> str:
        """At this run's own pace so far: rich's estimate reads only the last 30 s, which a
        step of a minute leaves empty."""
        task = self.progress.tasks[0]
        since, done_before = self.begun
        done = task.completed - done_before
        if self._all_done():
            return f"done in {timedelta(seconds=round(now - since))}"
        if done <= 0 or task.total is None:
            return ""
        left = (task.total - task.completed) * (now - since) / done
        return f"{timedelta(seconds=round(left))} left"

    def _print_line(self, now: float) -> None:
        self.told = self._state()
        line = f"{strftime(PLAIN_LINE_TIME)} {self.told}"
        if left := self._time_left(now):
            line += f", {left}"
        if self.note:
            line += f"; {self.note}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True, emoji=False)
        self.told_at = now
        self.note = ""

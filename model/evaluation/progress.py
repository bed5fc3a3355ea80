"""The progress `atri eval` shows while it loads the base and the adapter and they answer
the probes: on a slow machine that is minutes of silence otherwise."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from model.progress_bar import PLAIN_LINE_SECONDS, Bar


class ProbeProgress(Protocol):
    """What `evaluate` reports as it goes: the replies to come (`start`), the stage at
    work (`phase`: loading, a model's perplexity or probes), replies done (`advance`),
    and the end (`stop`)."""

    def start(self, total: int) -> None: ...

    def phase(self, description: str) -> None: ...

    def advance(self, replies: int) -> None: ...

    def stop(self) -> None: ...


class RichProbeProgress:
    """A rich bar over the probe replies of both models, as `atri train` has over steps.
    In a file or a journal, a plain line as each stage begins, at each batch at most one
    every 30 s, and "still at it" at least every `quiet_limit` seconds while a stage runs
    on (`Bar`'s keep-alive): loading the base, a perplexity or the first batch of replies
    takes minutes on a loaded machine."""

    def __init__(self, console: Any, quiet_limit: float = PLAIN_LINE_SECONDS) -> None:
        self.bar = Bar(console, "{task.description}", "replies")
        self.quiet_limit = quiet_limit

    @property
    def watcher(self) -> threading.Thread | None:
        return self.bar.watcher

    def start(self, total: int) -> None:
        self.bar.start("probing", total=total, keep_alive=self.quiet_limit)

    def phase(self, description: str) -> None:
        with self.bar.lock:  # one change: the watcher sees the new stage whole
            self.bar.begin_stage()
            self.bar.update(description=description)
            self.bar.tell(at_once=True)

    def advance(self, replies: int) -> None:
        self.bar.advance(replies)
        self.bar.tell()

    def stop(self) -> None:
        self.bar.stop()


class NoProgress:
    """Nothing shown (`evaluate` called from code)."""

    def start(self, total: int) -> None:
        pass

    def phase(self, description: str) -> None:
        pass

    def advance(self, replies: int) -> None:
        pass

    def stop(self) -> None:
        pass

"""The progress `atri eval` shows while it loads the base and the adapter and they answer
the probes: on a slow machine that is minutes of silence otherwise."""

from __future__ import annotations

import threading
from datetime import timedelta
from time import monotonic
from typing import Any, Protocol

from model.progress_bar import PLAIN_LINE_SECONDS, Bar

# How often the plain lines' watcher looks whether a stage has run quiet too long.
WATCH_SECONDS = 1.0


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
    every 30 s, and one at least every `quiet_limit` seconds while a stage runs on: loading
    the base, a perplexity or the first batch of replies takes minutes on a loaded
    machine, and a piped `atri eval` said nothing all that while."""

    def __init__(self, console: Any, quiet_limit: float = PLAIN_LINE_SECONDS) -> None:
        self.bar = Bar(console, "{task.description}", "replies")
        self.quiet_limit = quiet_limit
        # The watcher thread tells the bar too: one line at a time, whole.
        self.lock = threading.Lock()
        self.stage_began = monotonic()
        self.replies_left = 0
        self.stopping = threading.Event()
        self.watcher: threading.Thread | None = None

    def start(self, total: int) -> None:
        with self.lock:
            self.bar.start("probing", total=total)
            self.stage_began = monotonic()
            self.replies_left = total
        if not self.bar.live:
            self.watcher = threading.Thread(target=self._watch, name="eval-progress", daemon=True)
            self.watcher.start()

    def phase(self, description: str) -> None:
        with self.lock:
            self.stage_began = monotonic()
            self.bar.update(description=description)
            self.bar.tell(at_once=True)

    def advance(self, replies: int) -> None:
        with self.lock:
            self.bar.advance(replies)
            self.replies_left -= replies
            self.bar.tell()

    def stop(self) -> None:
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.join()
            self.watcher = None
        with self.lock:
            self.bar.stop()

    def _watch(self) -> None:
        """Until `stop`: a line saying the stage still runs, once it has been quiet for
        `quiet_limit` seconds. Not once every reply is in: the bar then says no more
        until `stop`'s line, which would carry the note."""
        while not self.stopping.wait(min(WATCH_SECONDS, self.quiet_limit / 4)):
            with self.lock:
                if self.replies_left > 0 and self.bar.quiet_for() >= self.quiet_limit:
                    took = timedelta(seconds=round(monotonic() - self.stage_began))
                    self.bar.tell(f"still at it, {took} into this stage", at_once=True)


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

"""The progress `atri eval` shows while the base and the adapter answer the probes: on a
slow machine that is minutes of silence after "Probing the base …" otherwise."""

from __future__ import annotations

from typing import Any, Protocol

from model.progress_bar import Bar


class ProbeProgress(Protocol):
    """What `evaluate` reports as it goes: the replies to come (`start`), the model and
    step at work (`phase`), replies done (`advance`), and the end (`stop`)."""

    def start(self, total: int) -> None: ...

    def phase(self, description: str) -> None: ...

    def advance(self, replies: int) -> None: ...

    def stop(self) -> None: ...


class RichProbeProgress:
    """A rich bar over the probe replies of both models, as `atri train` has over steps;
    in a file or a journal, a plain line at each phase and batch, at most one every 30 s."""

    def __init__(self, console: Any) -> None:
        self.bar = Bar(console, "{task.description}", "replies")

    def start(self, total: int) -> None:
        self.bar.start("probing", total=total)

    def phase(self, description: str) -> None:
        self.bar.update(description=description)
        self.bar.tell()

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

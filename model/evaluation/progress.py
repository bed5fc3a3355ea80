"""The progress `atri eval` shows while the base and the adapter answer the probes: on a
slow machine that is minutes of silence after "Probing the base …" otherwise."""

from __future__ import annotations

from typing import Any, Protocol

from model.progress_bar import rich_bar


class ProbeProgress(Protocol):
    """What `evaluate` reports as it goes: the replies to come (`start`), the model and
    step at work (`phase`), replies done (`advance`), and the end (`stop`)."""

    def start(self, total: int) -> None: ...

    def phase(self, description: str) -> None: ...

    def advance(self, replies: int) -> None: ...

    def stop(self) -> None: ...


class RichProbeProgress:
    """A rich bar over the probe replies of both models, as `atri train` has over steps."""

    def __init__(self, console: Any) -> None:
        self.progress = rich_bar(console, "{task.description}", "replies")
        self.task: Any = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("probing", total=total)

    def phase(self, description: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=description)

    def advance(self, replies: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, replies)

    def stop(self) -> None:
        self.progress.stop()


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

"""The one error class of `atri train`: a request that cannot run as asked."""

from __future__ import annotations

from atri.errors import UserError


class TrainError(UserError):
    """A training request that cannot run as asked; str() is one sentence saying why."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) once the run's checkpoint folder is known: `step` is that of
    its last complete checkpoint, what `--resume` continues from (None: nothing kept)."""

    def __init__(self, step: int | None) -> None:
        super().__init__(step)
        self.step = step

"""`atri train`'s errors: a request that cannot run as asked, and a run interrupted."""

from __future__ import annotations

from pathlib import Path

from atri.errors import ConfigError, UserError


class DatasetError(UserError):
    """A dataset file that cannot be used; str() names the file and the problem."""


class TrainError(UserError):
    """A training request that cannot run as asked; str() is one sentence saying why."""


class HeldOutAsTrainingError(ConfigError):
    """The training file named (--dataset or [train] dataset) is a held-out split: a
    setting to fix, so exit 2 as for the config's other errors."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) once the run's checkpoint folder is known: `step` is that of
    its last complete checkpoint, what `--resume` continues from (None: nothing kept);
    `version`, the version folder when it was already in place; `checkpoints_left`, when
    it cut the deletion of the run's checkpoints short (the next run deletes the rest)."""

    def __init__(
        self, step: int | None, version: Path | None = None, *, checkpoints_left: bool = False
    ) -> None:
        super().__init__(step)
        self.step = step
        self.version = version
        self.checkpoints_left = checkpoints_left

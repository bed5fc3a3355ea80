"""How a run tells the CLI what it has done: a callback the stages call as they go."""

from __future__ import annotations

from collections.abc import Callable

# Called with (stage or file name, units done) so the CLI can move a progress bar.
Progress = Callable[[str, int], None]


def no_progress(_: str, __: int) -> None:
    return None

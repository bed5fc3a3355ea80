"""The rich bar that `atri train` (over steps) and `atri eval` (over probe replies) show:
one layout, so the two read alike."""

from __future__ import annotations

from typing import Any


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

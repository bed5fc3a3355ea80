"""Stopping a background task (the batcher's loop, the summary writer, the room sweeper,
a bot's character lookup) at close."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has ended. A cancel of the caller meanwhile still
    reaches the caller (`suppress(CancelledError)` around `await task` swallowed it: the
    caller went on as if never cancelled); an error the task ended with is raised here."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error

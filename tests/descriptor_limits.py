"""For tests run in a child process that has no file descriptor left: its limit lowered,
then every descriptor taken, as a worker flooded with connections finds itself. Imported
by the child (`python -c`, run in the repository root); POSIX only (`resource`)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any


def lower_descriptor_limit(soft: int = 256) -> None:
    """A soft limit of `soft` descriptors, so taking them all is quick."""
    import resource  # POSIX only: the tests importing this skip on Windows

    resource.setrlimit(
        resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    )


def take_every_descriptor() -> list[int]:
    """Open /dev/null until no descriptor is left; the caller closes what it returns."""
    taken = []
    while True:
        try:
            taken.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            return taken


async def with_none_left(run: Callable[[], Awaitable[Any]]) -> Any:
    """What `run()` gives with every descriptor taken, or its error as "Type: text"."""
    taken = take_every_descriptor()
    try:
        return await run()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        for fd in taken:
            os.close(fd)

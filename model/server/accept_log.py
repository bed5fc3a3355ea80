"""One line a minute, not a traceback a second, while the worker is out of descriptors.

When accept() fails for want of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM), asyncio's
event loop logs "socket.accept() out of system resource" with a full traceback and tries
again a moment later: under a connection flood one run logged about 22,000 such blocks,
burying every other line. The filter here lets that message through once a minute, as
one line with the error and how many like it were not shown; other asyncio messages pass
as they are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

ACCEPT_FAILED = "socket.accept() out of system resource"
ONCE_EVERY_SECONDS = 60.0


class AcceptFailureFilter(logging.Filter):
    """On the `asyncio` logger: its accept failures once per `every` seconds, shortened."""

    def __init__(
        self, every: float = ONCE_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self.last_shown: float | None = None
        self.not_shown = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(ACCEPT_FAILED):
            return True
        now = self.clock()
        if self.last_shown is not None and now - self.last_shown < self.every:
            self.not_shown += 1
            return False
        self.last_shown = now
        record.msg, record.args = self._line(record), ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        self.not_shown = 0
        return True

    def _line(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        line = f"{ACCEPT_FAILED}: {error}" if error is not None else ACCEPT_FAILED
        line += " (new connections wait until descriptors free up"
        if self.not_shown:
            line += f"; {self.not_shown} more like it not shown since the last"
        return line + f"; this line is shown at most once every {self.every:g} seconds)"


def quiet_accept_failures(logger: logging.Logger | None = None) -> AcceptFailureFilter:
    """Put the filter on the `asyncio` logger (once: a second call returns the first)."""
    logger = logger or logging.getLogger("asyncio")
    for present in logger.filters:
        if isinstance(present, AcceptFailureFilter):
            return present
    added = AcceptFailureFilter()
    logger.addFilter(added)
    return added

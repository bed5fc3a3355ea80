"""A listening socket on which asyncio stops accepting at the first failure for want of
descriptors, instead of failing the whole listen backlog over and over.

When accept() fails with EMFILE, ENFILE, ENOBUFS or ENOMEM, asyncio's selector loop
(`_accept_connection`, as in 3.11–3.13) takes the listening socket off the selector and
schedules a retry ACCEPT_RETRY_DELAY (1 s) later, but then goes on accepting in the same
turn: up to the backlog (uvicorn's 2048) more failures, each scheduling one more retry. The retries multiply; a worker out of descriptors logged
221,543 failed accepts in a minute, a core spinning. Here the accept() that follows such
a failure in the same turn of the loop finds "nothing waiting" (BlockingIOError), which
ends asyncio's accept loop: one failed accept per retry. A loop that stops by itself
(newer CPython) never makes that second call, so this changes nothing there.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class PausingListener(socket.socket):
    """A socket.socket whose accept() says "nothing waiting" for the rest of the loop's
    turn once it failed for want of descriptors (or memory)."""

    _paused = False

    def accept(self) -> tuple[socket.socket, Any]:
        if self._paused:
            raise BlockingIOError(errno.EAGAIN, "accepting paused: out of descriptors")
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno in OUT_OF_RESOURCES:
                self._pause_for_this_turn()
            raise

    def _pause_for_this_turn(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop accepting in a loop on it
            return
        self._paused = True
        loop.call_soon(self._resume)

    def _resume(self) -> None:
        self._paused = False

"""One send queue per QQ account: QQ's risk control punishes bursts from one account, and
neither NapCat nor go-cqhttp paces sends by default.

Every send from an account waits its turn: at least `gap_seconds` after the previous one,
and no more than `per_minute` in any 60 s (0 = no cap). A send refused in words that
say risk control or too many sends ("风控", "频繁", "risk", "too fast") is tried once more
after `retry_seconds`. go-cqhttp, NapCat and Lagrange never say so: go-cqhttp answers
"blocked by server" (retcode 100) for a muted group and for risk control alike, NapCat a
"Timeout: NTEvent" (1200), Lagrange a bare retcode; those end the reply. "blocked by
server" is never retried: a muted group refuses every try, and repeated refused sends can
get the account banned (NapCat issue #398).

At shutdown every wait here ends at once (`Stopped`): NoneBot waits for each message
handler, shielded from cancellation, and one waiting for its turn under the per-minute
cap would hold the stop for up to a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.limits import WINDOW_SECONDS

# Words of a refusal that a later try may get through. Not retcode 1404 ("API not
# available"): NapCat means an API it does not support, which no later try changes.
_RETRYABLE_WORDS = re.compile(r"风控|risk|频繁|too fast", re.IGNORECASE)


def is_retryable(exc: BaseException) -> bool:
    """A refusal whose words say risk control or too many sends: a later try may get
    through. NoneBot's ActionFailed carries the implementation's answer in `info`."""
    info = getattr(exc, "info", None)
    if not isinstance(info, dict):
        return False
    return bool(_RETRYABLE_WORDS.search(" ".join(str(v) for v in info.values())))


# How long a send waits for the OneBot implementation's answer, at most (NoneBot's
# api_timeout, 30 s by default, when shorter). The account's send queue is held meanwhile:
# every other chat of the account waits for a send that one stuck implementation never
# answers.
SEND_ANSWER_SECONDS = 15.0


def send_answer_seconds(api_timeout: float | None) -> float:
    """How long a send waits for its answer: SEND_ANSWER_SECONDS, or NoneBot's own
    `api_timeout` when that is shorter (it fails the call then)."""
    if api_timeout is None or api_timeout <= 0:
        return SEND_ANSWER_SECONDS
    return min(SEND_ANSWER_SECONDS, api_timeout)


def refusal_text(exc: BaseException) -> str:
    """A refusal as one log line: the retcode and the implementation's own words (msg,
    wording, message: each implementation fills some of them, often with the same text
    or several lines of it)."""
    info = getattr(exc, "info", None)
    if not isinstance(info, dict):
        return " ".join(str(exc).split()) or type(exc).__name__
    words: list[str] = []
    for key in ("msg", "wording", "message"):
        said = " ".join(str(info.get(key) or "").split())
        if said and said not in words:
            words.append(said)
    said = " / ".join(words)
    if len(said) > REFUSAL_CHARS:
        said = said[: REFUSAL_CHARS - 1] + "…"
    return f"retcode {info.get('retcode')}" + (f": {said}" if said else "")


# A refusal's words logged at most (NapCat's timeouts quote a whole JSON answer).
REFUSAL_CHARS = 300


class Stopped(Exception):
    """The plugin is stopping: a send still waiting for its turn is never made."""


class SendQueue:
    """`stopping`: set at shutdown, it ends every wait of the queue with `Stopped`."""

    def __init__(self, gap_seconds: float, per_minute: int, stopping: asyncio.Event) -> None:
        self.gap_seconds = gap_seconds
        self.per_minute = per_minute
        self._stopping = stopping
        self._lock = asyncio.Lock()
        self._last = float("-inf")
        self._sent: deque[float] = deque()

    def _wait_needed(self, now: float) -> float:
        while self._sent and now - self._sent[0] >= WINDOW_SECONDS:
            self._sent.popleft()
        wait = self._last + self.gap_seconds - now
        if self.per_minute > 0 and len(self._sent) >= self.per_minute:
            wait = max(wait, self._sent[0] + WINDOW_SECONDS - now)
        return max(wait, 0.0)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the account's turn to send: one send at a time, paced."""
        async with self._lock:
            await self.pause(self._wait_needed(time.monotonic()))
            try:
                yield
            finally:
                self._last = time.monotonic()
                self._sent.append(self._last)

    async def pause(self, seconds: float) -> None:
        """`seconds` of waiting before a send, cut short by the stop: `Stopped` once it
        is stopping, so nothing more is sent."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
        else:
            await asyncio.sleep(0)  # others' turn, as a wait of none always gave
        if self._stopping.is_set():
            raise Stopped

"""What a message must pass before it reaches the model, and the counts it needs there.

`RateLimiter` (messages per user per minute), `ScopeLocks` (one answer at a time per
conversation) and `TokenCounts` (remembered token counts for the history budgets). Small,
shared by every chat path through `ChatService.chat`, and testable alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable

RATE_WINDOW_SECONDS = 60.0
# Memory the remembered token counts may hold (their texts' sizes, in bytes).
TOKEN_COUNT_CACHE_BYTES = 32 * 1024 * 1024


class RateLimiter:
    """At most `per_minute` messages per key in any 60-second window (0 = no limit).

    Keys with no message in the last window are dropped (at most once a window, all
    together), so users who have gone idle cost nothing."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._swept: float | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        if self._swept is None:
            self._swept = now
        elif now - self._swept >= RATE_WINDOW_SECONDS:
            self._sweep(now)
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= RATE_WINDOW_SECONDS:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return False
        seen.append(now)
        return True

    def _sweep(self, now: float) -> None:
        self._swept = now
        idle = [
            k for k, seen in self._seen.items() if not seen or now - seen[-1] >= RATE_WINDOW_SECONDS
        ]
        for key in idle:
            del self._seen[key]


class TokenCounts:
    """`count(text)` remembered for recent texts, bounded by the bytes those texts take
    (not by their number: a few huge messages must not pin gigabytes). Safe to call from
    several threads, as fitting runs off the event loop."""

    def __init__(self, count: Callable[[str], int], max_bytes: int) -> None:
        self._count = count
        self.max_bytes = max_bytes
        self.bytes = 0
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def __call__(self, text: str) -> int:
        with self._lock:
            known = self._counts.get(text)
            if known is not None:
                self._counts.move_to_end(text)
                return known
        counted = self._count(text)
        size = sys.getsizeof(text)
        if size > self.max_bytes // 8:  # one text may not flush most of the others
            return counted
        with self._lock:
            if text not in self._counts:
                self._counts[text] = counted
                self.bytes += size
            while self.bytes > self.max_bytes:
                old, _ = self._counts.popitem(last=False)
                self.bytes -= sys.getsizeof(old)
        return counted


class ScopeLocks:
    """One lock per conversation, so its messages are answered in order. A lock lives
    only while someone holds or awaits it: the table holds active conversations only."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(scope, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[scope] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[scope]
            if users == 1:
                del self._locks[scope]
            else:
                self._locks[scope] = (lock, users - 1)

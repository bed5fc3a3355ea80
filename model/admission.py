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
# Memory the remembered token counts may hold, in bytes (`TokenCounts.entry_bytes`).
TOKEN_COUNT_CACHE_BYTES = 32 * 1024 * 1024
# What an entry of the table costs beside its text and count (`sys.getsizeof`): its slot
# in the dict and its link in the order, with the allocator's rounding, up to 120 bytes
# by how full the table is (measured with tracemalloc, CPython 3.11). A short chat
# message takes less than that itself (under 100 bytes): counting the texts alone let the
# table take twice its cap.
TOKEN_COUNT_ENTRY_BYTES = 120


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

    def give_back(self, key: str) -> None:
        """Uncount the message `allow` counted last for `key`: one the worker then turned
        away (busy) was never answered, and must not shorten the minute's allowance."""
        seen = self._seen.get(key)
        if seen:
            seen.pop()

    def _sweep(self, now: float) -> None:
        self._swept = now
        idle = [
            k for k, seen in self._seen.items() if not seen or now - seen[-1] >= RATE_WINDOW_SECONDS
        ]
        for key in idle:
            del self._seen[key]


class TokenCounts:
    """`count(text)` remembered for recent texts, bounded by the bytes they take (not by
    their number: a few huge messages must not pin gigabytes), table entries included. Safe to call from
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
        size = self.entry_bytes(text, counted)
        if size > self.max_bytes // 8:  # one text may not flush most of the others
            return counted
        with self._lock:
            if text not in self._counts:
                self._counts[text] = counted
                self.bytes += size
            while self.bytes > self.max_bytes:
                old, old_count = self._counts.popitem(last=False)
                self.bytes -= self.entry_bytes(old, old_count)
        return counted

    @staticmethod
    def entry_bytes(text: str, counted: int) -> int:
        """The memory one remembered count takes: text, count and table entry."""
        return sys.getsizeof(text) + sys.getsizeof(counted) + TOKEN_COUNT_ENTRY_BYTES


class ScopeLocks:
    """One lock per conversation, so its messages are answered in order. A lock lives
    only while someone holds or awaits it: the table holds active conversations only."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    def pending(self, scope: str) -> int:
        """Messages of the conversation answered or waiting their turn now."""
        return self._locks.get(scope, (None, 0))[1]

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

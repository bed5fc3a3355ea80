"""Limits every platform applies before it posts: how often ATRI speaks in one channel
(and how much of that one person there gets), telling a rate-limited or busy person so
once rather than at every message, and one reply at a time in each conversation.

Both are silent by design: a loop between two bots, or a person hammering her, must
reduce what ATRI posts (QQ's risk control punishes exactly that output). The one word
said is a notice, once a minute, to a person whose share of a shared channel is used up
while the channel still has room: else she fell silent to them with no reason given.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from atri.graphemes import within_limit

WINDOW_SECONDS = 60.0
# How many keys (people, chats) a limit remembers before it forgets those whose minute is
# over: a bot in many groups, or answering thousands in private, keeps no entry per chat.
FORGET_PAST_KEYS = 10_000
# The most of one incoming message a bot passes on (Discord's own limit, with Nitro): a
# longer one (QQ lets a OneBot peer report 50,000 characters) is cut, never stored whole.
MAX_INPUT_CHARS = 4000
# Reply statuses that are a notice rather than an answer (see `model.protocol.Reply`).
QUIET_STATUSES = frozenset({"rate_limited", "busy"})


def input_kept(text: str) -> str:
    """The start of an incoming message a bot passes on: at most `MAX_INPUT_CHARS`,
    cut between two characters as a reader sees them (`atri.graphemes.character_cut`):
    a flag or an emoji of several code points cut in two reached her as a broken half.
    """
    return within_limit(text, MAX_INPUT_CHARS)


class Sweeps:
    """When a table of recent keys is swept of those whose window is over: once it holds
    `floor` keys, then again only once it has doubled since the last sweep. Sweeping at
    every new key past the floor rebuilt the whole table for each one once that many were
    active together (10,000 chats in a minute: 3 ms a message instead of 6 µs); doubling
    keeps each new key O(1) on average and the table within twice the active keys."""

    def __init__(self, floor: int = FORGET_PAST_KEYS) -> None:
        self.floor = floor
        self._next = floor

    def due(self, size: int) -> bool:
        return size >= self._next

    def swept(self, kept: int) -> None:
        self._next = max(self.floor, 2 * kept)


@dataclass(eq=False)
class Counted:
    """One reply `ReplyCap.allow` counted; `give_back` uncounts this one and no other."""

    key: str
    at: float
    person: str | None = None


class ReplyCap:
    """At most `per_minute` replies per key (a channel) in any 60 s; 0 = no cap. In a
    channel many share, one person's replies are at most half of them (rounded up): a
    member sending as many messages as the cap took every reply there, and she was silent
    to everyone else for the rest of the minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._sent: dict[str, deque[Counted]] = defaultdict(deque)
        self._sweeps = Sweeps()

    @property
    def share(self) -> int:
        """The most replies one person gets in a shared channel in any 60 s."""
        return (self.per_minute + 1) // 2

    def allow(
        self, key: str, person: str | None = None, now: float | None = None
    ) -> Counted | None:
        """Count one reply under `key` if the cap allows it: what counted it, else None.
        `person`: whom it answers in a shared channel (a server channel, a group), held to
        `share`; None in a private chat (a DM), whose one person has the whole cap."""
        now = time.monotonic() if now is None else now
        counted = Counted(key, now, person)
        if self.per_minute <= 0:
            return counted
        if self._full(key, person, now) is not None:
            return None
        self._sent[key].append(counted)
        return counted

    def share_notice(
        self, key: str, person: str, notices: QuietNotices, now: float | None = None
    ) -> Counted | None:
        """After `allow` turned `person` away in a shared channel: count one notice to
        them if it was their share that is used up, the channel has room for one more
        post, and `notices` (the platform's, keyed by person) told them nothing in its
        window; else None, and she stays silent. One notice a minute, of any kind: a
        flood the worker already turned away with a notice gets no second one. The
        channel's whole cap is never told: that silence is what ends a loop between two
        bots, and a crowd of members is not answered with a crowd of notices."""
        now = time.monotonic() if now is None else now
        if self.per_minute <= 0 or self._full(key, person, now) != "share":
            return None
        if not notices.should_tell(person, now):
            return None
        counted = Counted(key, now, person)
        self._sent[key].append(counted)
        return counted

    def _full(self, key: str, person: str | None, now: float) -> str | None:
        """What keeps a reply under `key` to `person` from being posted now: "channel"
        (the whole cap), "share" (theirs), or None."""
        if key not in self._sent and self._sweeps.due(len(self._sent)):
            self._forget_past(now)
        sent = self._sent[key]
        while sent and now - sent[0].at >= WINDOW_SECONDS:
            sent.popleft()
        if len(sent) >= self.per_minute:
            return "channel"
        if person is not None and sum(c.person == person for c in sent) >= self.share:
            return "share"
        return None

    def _forget_past(self, now: float) -> None:
        """Drop the chats with no reply in the last minute."""
        self._sent = defaultdict(
            deque, {k: s for k, s in self._sent.items() if s and now - s[-1].at < WINDOW_SECONDS}
        )
        self._sweeps.swept(len(self._sent))

    def give_back(self, counted: Counted) -> None:
        """Uncount a reply `allow` counted: none was posted after all (a rate-limited
        person told already, a message deleted before she began). Else a member flooding
        her used up a channel's replies with ones she never posted, and she stayed silent
        to everyone there for the rest of the minute. That reply's own count goes, not the
        latest: another's counted since keeps its place in the window."""
        sent = self._sent.get(counted.key)
        if sent is not None and counted in sent:  # else its minute is over already
            sent.remove(counted)


class QuietNotices:
    """A "busy" notice is posted once per key (a person) per window, then nothing."""

    def __init__(self, window_seconds: float = WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._told: dict[str, float] = {}
        self._sweeps = Sweeps()

    def should_tell(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        told = self._told.get(key)
        if told is not None and now - told < self.window_seconds:
            return False
        self._told[key] = now
        if self._sweeps.due(len(self._told)):  # forget people told long ago
            self._told = {k: t for k, t in self._told.items() if now - t < self.window_seconds}
            self._sweeps.swept(len(self._told))
        return True


class SeenRecently:
    """Remembers keys for a few seconds: one message seen by two of ATRI's accounts."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._seen: dict[object, tuple[str, float]] = {}

    def first(self, key: object, by: str, now: float | None = None) -> bool:
        """True unless another holder (`by`) saw `key` within the last few seconds."""
        now = time.monotonic() if now is None else now
        self._seen = {k: v for k, v in self._seen.items() if now - v[1] < self.seconds}
        earlier = self._seen.get(key)
        if earlier is not None and earlier[0] != by:
            return False
        self._seen[key] = (by, now)
        return True


class OneReplyAtATime:
    """One reply at a time in each conversation (a channel, a group, a private chat), so
    the parts of two replies never interleave ("A1 B1 A2 B2" leaves A2 looking like part
    of B). Other conversations are not held. Weak values: a conversation's lock lives
    only while a reply holds or awaits it, so a bot in many rooms keeps no lock per room.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[object, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def turn(self, conversation: object) -> asyncio.Lock:
        """The lock to hold while sending a reply's parts in `conversation`."""
        lock = self._locks.get(conversation)
        if lock is None:
            lock = self._locks[conversation] = asyncio.Lock()
        return lock


class HeldTurn:
    """A reply's hold on its conversation's turn (`OneReplyAtATime.turn`), which it may
    let go of for a while (a retry's wait, so other replies there go out) and take back.
    It is let go at the end only if held: a reply cancelled while taking it back (a stop,
    mid-retry) does not hold it, and releasing it then would free the turn another reply
    holds, whose parts would interleave with the next, or raise "Lock is not acquired"
    in place of the cancellation."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self._held = False

    async def __aenter__(self) -> HeldTurn:
        await self.take_back()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.let_go()

    async def take_back(self) -> None:
        await self._lock.acquire()
        self._held = True

    def let_go(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


# The longest a "your share is used up" notice waits for the answers it speaks of: on a
# CPU a queue of them takes minutes; past this the notice goes anyway.
NOTICE_WAITS_SECONDS = 300.0


class AnswersUnderWay:
    """The answers being made for each person in a chat (a key), for a share notice to
    follow them. The share is counted when a message arrives, so the notice came first:
    a member flooding a group read "I've answered you a lot already" before any answer,
    each of which takes a real model seconds."""

    def __init__(self) -> None:
        self._under_way: dict[str, set[asyncio.Future[None]]] = {}

    @contextlib.contextmanager
    def answering(self, key: str) -> Iterator[None]:
        """Around making and posting one answer under `key`."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._under_way.setdefault(key, set()).add(done)
        try:
            yield
        finally:
            done.set_result(None)
            waiting = self._under_way.get(key, set())
            waiting.discard(done)
            if not waiting:
                self._under_way.pop(key, None)

    async def finished(self, key: str, within: float = NOTICE_WAITS_SECONDS) -> None:
        """Once the answers under way under `key` now are posted (or `within` passed)."""
        waiting = list(self._under_way.get(key, ()))
        if waiting:
            await asyncio.wait(waiting, timeout=within)

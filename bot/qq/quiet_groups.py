"""Groups where one of her accounts cannot speak now, so that she does not answer there:
each answer there cost a generation (seconds on a CPU) and a refused send counted against
the account's `sends_per_minute`, which its other groups share.

A group goes quiet for an account when QQ refuses its sends there twice in a row (muted,
removed, or under risk control: OneBot implementations word these alike, see
sending.py; one refusal alone may be a message QQ would not take), or when a ban notice
names her account (for the ban's length). The lift of a ban on her, or of the whole
group's mute, ends it; so does time.

A whole group's mute (全员禁言) quiets it for each of her accounts that is no admin there,
until it is lifted: every reply there would be refused. The two are kept apart: lifting
a ban on her leaves the whole mute, and lifting the whole mute leaves her own ban.

A notice sent while an account was not connected (the OneBot implementation restarted)
never comes: `to_check` names the groups worth asking about when it connects again
(`mute_watch.py` asks). This module only keeps what is known; it asks nobody.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

REFUSALS_TO_QUIET = 2
QUIET_SECONDS = 300.0
# Groups remembered at most (the oldest forgotten first): one account is in a few
# hundred groups; the bound only keeps a long run's map finite.
MAX_GROUPS = 10_000

Key = tuple[str, str]  # (account, group)


V = TypeVar("V")
# Why a group is quiet for an account: the whole group muted, a ban on her, or sends
# refused (`bot.commands.CannotPostReason` names them alike).
QuietReason = Literal["muted_whole", "banned", "refused"]


@dataclass(frozen=True)
class Quiet:
    """A group quiet for an account, why, and for how many seconds more (None: until
    lifted)."""

    account: str
    group: str
    reason: QuietReason
    seconds_left: float | None = None


def _remember(table: OrderedDict[Key, V], key: Key, value: V) -> None:
    table[key] = value
    while len(table) > MAX_GROUPS:
        table.popitem(last=False)


class QuietGroups:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._refusals: OrderedDict[Key, int] = OrderedDict()
        self._until: OrderedDict[Key, float] = OrderedDict()  # refused sends
        self._banned_until: OrderedDict[Key, float] = OrderedDict()  # a ban on her
        self._muted_whole: OrderedDict[Key, None] = OrderedDict()
        self._spoken: OrderedDict[Key, None] = OrderedDict()  # the last send there went out

    def refusals(self, account: str, group: str) -> int:
        """Sends refused in a row there (0: the next refusal is the first)."""
        return self._refusals.get((account, group), 0)

    def refused(self, account: str, group: str) -> bool:
        """Count a refused send; True when it makes the group quiet (log it then)."""
        key = (account, group)
        count = self._refusals.pop(key, 0) + 1
        if count < REFUSALS_TO_QUIET:
            _remember(self._refusals, key, count)
            return False
        self._quiet(key, QUIET_SECONDS)
        return True

    def sent(self, account: str, group: str) -> None:
        """A send went through: refusals before it say nothing of the next."""
        key = (account, group)
        self._forget_refusals(key)
        self._banned_until.pop(key, None)
        self._muted_whole.pop(key, None)
        self._spoken.pop(key, None)
        _remember(self._spoken, key, None)

    def banned(self, account: str, group: str, seconds: float) -> None:
        key = (account, group)
        self._banned_until.pop(key, None)
        _remember(self._banned_until, key, self._clock() + seconds)

    def muted_whole(self, account: str, group: str) -> None:
        """The whole group is muted, and the account is no admin there: quiet until the
        mute is lifted (`lifted`), however long that is."""
        _remember(self._muted_whole, (account, group), None)

    def is_muted_whole(self, account: str, group: str) -> bool:
        return (account, group) in self._muted_whole

    def is_banned(self, account: str, group: str) -> bool:
        """A ban on her account there, not yet over."""
        return self._running(self._banned_until, (account, group))

    def has_spoken(self, account: str, group: str) -> bool:
        """Whether the account's last send there went out (of the groups remembered)."""
        return (account, group) in self._spoken

    def lifted(self, account: str, group: str, whole: bool) -> None:
        """The whole group's mute (`whole`), or a ban on her, is lifted: that quiet ends,
        and the refusals either may have caused; the other, if on, stays."""
        key = (account, group)
        self._forget_refusals(key)
        (self._muted_whole if whole else self._banned_until).pop(key, None)

    def to_check(self, account: str, most: int) -> list[str]:
        """The account's groups whose whole mute, or a ban on her, may have begun or
        ended unseen, at most `most`: first those muted whole (a lift missed keeps her
        silent there for good), then those she is banned in (until the ban's end), then
        those it spoke in, the latest first (a mute or ban missed there costs a
        generation and a refused send)."""
        muted = [group for (who, group) in reversed(self._muted_whole) if who == account]
        banned = [
            group
            for (who, group) in reversed(list(self._banned_until))
            if who == account and self.is_banned(who, group)
        ]
        spoken = [group for (who, group) in reversed(self._spoken) if who == account]
        return list(dict.fromkeys([*muted, *banned, *spoken]))[:most]

    def quiet(self, account: str, group: str) -> bool:
        return self.why(account, group) is not None

    def why(self, account: str, group: str) -> Quiet | None:
        """Why the group is quiet for the account (the whole mute first: it outlasts the
        rest), or None when it is not."""
        key = (account, group)
        if key in self._muted_whole:
            return Quiet(account, group, "muted_whole")
        timed: tuple[tuple[OrderedDict[Key, float], QuietReason], ...] = (
            (self._banned_until, "banned"),
            (self._until, "refused"),
        )
        for table, reason in timed:
            if self._running(table, key):
                return Quiet(account, group, reason, table[key] - self._clock())
        return None

    def quiet_now(self) -> list[Quiet]:
        """Every group quiet for one of the accounts now: those muted whole first (until
        lifted), then bans, then refusals, the latest of each first."""
        keys = [*reversed(self._muted_whole), *reversed(self._banned_until), *reversed(self._until)]
        found: dict[Key, Quiet | None] = {}
        for key in keys:
            if key not in found:
                found[key] = self.why(*key)
        return [quiet for quiet in found.values() if quiet is not None]

    def _running(self, table: OrderedDict[Key, float], key: Key) -> bool:
        until = table.get(key)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del table[key]
        return False

    def _forget_refusals(self, key: Key) -> None:
        self._refusals.pop(key, None)
        self._until.pop(key, None)

    def _quiet(self, key: Key, seconds: float) -> None:
        self._refusals.pop(key, None)
        self._until.pop(key, None)
        _remember(self._until, key, self._clock() + seconds)

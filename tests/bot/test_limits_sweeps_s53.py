"""Past FORGET_PAST_KEYS keys active in one minute, a limit sweeps its table only once it
has doubled: it rebuilt the whole table at every new key (3 ms a message, not 6 µs)."""

from __future__ import annotations

import pytest

from bot.limits import FORGET_PAST_KEYS, WINDOW_SECONDS, QuietNotices, ReplyCap, Sweeps


def count_sweeps(monkeypatch: pytest.MonkeyPatch, sweeps: list[int]) -> None:
    swept = Sweeps.swept

    def counting(self: Sweeps, kept: int) -> None:
        sweeps.append(kept)
        swept(self, kept)

    monkeypatch.setattr(Sweeps, "swept", counting)


def test_many_active_chats_are_swept_once_per_doubling(monkeypatch: pytest.MonkeyPatch) -> None:
    sweeps: list[int] = []
    count_sweeps(monkeypatch, sweeps)
    cap = ReplyCap(20)
    active = FORGET_PAST_KEYS + 2_000  # all within one minute
    for n in range(active):
        assert cap.allow(f"chat{n}", f"p{n}", now=1000 + n * 0.001) is not None
    assert sweeps == [FORGET_PAST_KEYS]  # one sweep at the floor, none at each key past it


def test_a_crowd_told_once_is_swept_once_per_doubling(monkeypatch: pytest.MonkeyPatch) -> None:
    sweeps: list[int] = []
    count_sweeps(monkeypatch, sweeps)
    notices = QuietNotices()
    for n in range(FORGET_PAST_KEYS + 2_000):
        assert notices.should_tell(f"p{n}", now=1000 + n * 0.001)
    assert len(sweeps) == 1


def test_chats_quiet_for_a_minute_are_still_forgotten() -> None:
    cap = ReplyCap(20)
    for n in range(FORGET_PAST_KEYS):
        cap.allow(f"old{n}", now=0.0)
    cap.allow("new", now=WINDOW_SECONDS + 1)
    assert set(cap._sent) == {"new"}  # the sweep at the floor dropped the quiet ones
    for n in range(FORGET_PAST_KEYS):  # the floor again, not twice the one kept
        cap.allow(f"later{n}", now=2 * WINDOW_SECONDS + 2)
    assert len(cap._sent) <= FORGET_PAST_KEYS

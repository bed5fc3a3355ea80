"""Session 44: the channel reply cap (`bot.limits.ReplyCap`), on its own clock."""

from __future__ import annotations

from bot.limits import ReplyCap


def test_giving_back_a_reply_uncounts_that_one_not_the_latest() -> None:
    """A's reply counted at 0 s, B's at 50 s, A's given back (the worker turned A away):
    B's still counts until its own minute is over (110 s). Popping the latest instead
    uncounted B's, and the channel's count was wrong for the rest of the window."""
    cap = ReplyCap(2)
    a = cap.allow("channel", now=0.0)
    assert a is not None
    assert cap.allow("channel", now=50.0) is not None
    cap.give_back(a)
    assert cap.allow("channel", now=55.0) is not None
    assert cap.allow("channel", now=61.0) is None  # B's (50 s) and 55 s fill it
    assert cap.allow("channel", now=110.0) is not None


def test_giving_back_a_reply_whose_minute_is_over_uncounts_nothing() -> None:
    cap = ReplyCap(1)
    old = cap.allow("channel", now=0.0)
    assert old is not None
    assert cap.allow("channel", now=70.0) is not None
    cap.give_back(old)
    assert cap.allow("channel", now=75.0) is None


def test_one_person_gets_half_a_shared_channels_replies_rounded_up() -> None:
    cap = ReplyCap(3)
    assert [cap.allow("group", "A", now=0.0) is not None for _ in range(3)] == [True, True, False]
    assert cap.allow("group", "B", now=1.0) is not None
    assert cap.allow("group", "B", now=2.0) is None  # the channel's 3 are used
    alone = ReplyCap(1)
    assert alone.allow("group", "A", now=0.0) is not None  # a cap of 1 is still usable


def test_a_private_chat_has_the_whole_cap() -> None:
    cap = ReplyCap(3)
    assert all(cap.allow("private:A", now=float(n)) is not None for n in range(3))
    assert cap.allow("private:A", now=3.0) is None

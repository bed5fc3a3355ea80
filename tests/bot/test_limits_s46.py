"""Session 46: a person whose share of a shared channel's replies is used up is told so
once a minute (`ReplyCap.share_notice`); before, she fell silent to them with no reason."""

from __future__ import annotations

from bot.limits import QuietNotices, ReplyCap


def test_a_person_past_their_share_is_told_once_a_minute() -> None:
    told = QuietNotices()
    cap = ReplyCap(4)  # a share of 2
    assert cap.allow("group", "A", now=0.0) is not None
    assert cap.allow("group", "A", now=1.0) is not None
    assert cap.allow("group", "A", now=2.0) is None
    assert cap.share_notice("group", "A", told, now=2.0) is not None
    assert cap.allow("group", "A", now=3.0) is None
    assert cap.share_notice("group", "A", told, now=3.0) is None  # told this minute
    assert cap.share_notice("group", "A", told, now=59.0) is None
    # Their replies' minute is over: answered again, and told again when past it.
    assert cap.allow("group", "A", now=61.0) is not None
    assert cap.allow("group", "A", now=62.0) is not None
    assert cap.allow("group", "A", now=63.0) is None
    assert cap.share_notice("group", "A", told, now=63.0) is not None


def test_the_notice_counts_against_the_channel_cap() -> None:
    told = QuietNotices()
    cap = ReplyCap(4)
    for at in (0.0, 1.0):
        assert cap.allow("group", "A", now=at) is not None
    assert cap.share_notice("group", "A", told, now=2.0) is not None
    assert cap.allow("group", "B", now=3.0) is not None
    assert cap.allow("group", "B", now=4.0) is None  # A's 2, the notice and B's 1


def test_a_full_channel_is_never_told() -> None:
    """The channel's whole cap is what ends a loop between two bots: no notice there,
    and a crowd of members is not answered with a crowd of notices."""
    told = QuietNotices()
    cap = ReplyCap(4)
    for at, person in enumerate("ABCD"):
        assert cap.allow("group", person, now=float(at)) is not None
    assert cap.allow("group", "A", now=5.0) is None
    assert cap.share_notice("group", "A", told, now=5.0) is None
    assert cap.allow("group", "E", now=5.0) is None
    assert cap.share_notice("group", "E", told, now=5.0) is None


def test_a_person_with_share_left_or_no_cap_gets_no_notice() -> None:
    told = QuietNotices()
    cap = ReplyCap(4)
    assert cap.allow("group", "A", now=0.0) is not None
    assert cap.share_notice("group", "A", told, now=1.0) is None  # nothing was turned away
    assert ReplyCap(0).share_notice("group", "A", told, now=0.0) is None


def test_a_person_told_anything_this_minute_is_not_told_again() -> None:
    """One notice a minute of any kind: a flood the worker turned away with a notice
    already, or a share used up in a second channel, gets no second one."""
    told = QuietNotices()
    cap = ReplyCap(2)  # a share of 1
    assert told.should_tell("A", now=0.0)  # the worker's rate limit, told
    assert cap.allow("one", "A", now=1.0) is not None
    assert cap.allow("one", "A", now=2.0) is None
    assert cap.share_notice("one", "A", told, now=2.0) is None
    assert cap.allow("one", "A", now=60.5) is None  # the reply at 1 s still counts
    assert cap.share_notice("one", "A", told, now=60.5) is not None
    assert cap.allow("two", "A", now=62.0) is not None
    assert cap.allow("two", "A", now=63.0) is None
    assert cap.share_notice("two", "A", told, now=63.0) is None

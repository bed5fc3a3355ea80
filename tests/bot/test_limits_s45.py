"""The reply cap forgets the chats whose minute is over: each private chat and group it
ever counted a reply in stayed a key with an empty queue, for as long as the bot ran."""

from __future__ import annotations

from bot.limits import FORGET_PAST_KEYS, WINDOW_SECONDS, ReplyCap


def test_the_cap_forgets_chats_quiet_for_a_minute_and_keeps_the_others() -> None:
    cap = ReplyCap(per_minute=2)
    for n in range(FORGET_PAST_KEYS):
        assert cap.allow(f"private:{n}", now=0.0) is not None
    assert cap.allow("group:busy", now=WINDOW_SECONDS - 1) is not None
    assert cap.allow("group:busy", now=WINDOW_SECONDS - 1) is not None

    # All were active at the sweep the floor began (none was quiet a minute yet): the
    # next sweep comes once the table has doubled (bot.limits.Sweeps), and forgets them.
    later = [f"private:new{n}" for n in range(FORGET_PAST_KEYS + 1)]
    for key in later:
        assert cap.allow(key, now=WINDOW_SECONDS + 1) is not None

    # the new chats and the busy group, whose minute goes on
    assert set(cap._sent) == {*later, "group:busy"}
    assert cap.allow("group:busy", now=WINDOW_SECONDS + 1) is None  # still at its cap


def test_a_chat_forgotten_counts_from_nothing_again() -> None:
    cap = ReplyCap(per_minute=1)
    assert cap.allow("private:1", now=0.0) is not None
    for n in range(FORGET_PAST_KEYS):
        cap.allow(f"private:other{n}", now=WINDOW_SECONDS + n * 1e-6)
    assert cap.allow("private:1", now=WINDOW_SECONDS + 1) is not None

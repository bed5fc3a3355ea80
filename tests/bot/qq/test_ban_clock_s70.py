"""Session 70: a QQ ban held for this machine's clock error. NapCat reports when a ban on
her ends as a wall time (`shut_up_timestamp`, now + 10 min by QQ's servers); with the
machine's clock 8 h behind (a hardware clock kept in local time read as UTC) that read
as 8 h 10 min, held on the monotonic clock, so once NTP put the clock right she stayed
silent there 8 h after QQ had lifted the ban (QQ sends no notice when a ban runs out).
The ban's end is now also kept as QQ's wall time and held against the wall clock, and
no ban is taken as longer than QQ's 30 days."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import GroupBanNoticeEvent

from bot.qq import mute_watch
from bot.qq.connections import Connections
from bot.qq.mute_watch import MAX_BAN_SECONDS, MuteWatch, ban_seconds_left
from bot.qq.quiet_groups import QuietGroups
from tests.bot.qq.test_quiet_groups_s51 import ban_notice
from tests.bot.qq.test_serve_e2e import GROUP_ID, SELF_ID

NOW = 1_750_000_000.0  # the real time, by QQ's servers
GROUP = str(GROUP_ID)
BEHIND = -8 * 3600.0


class WallClock:
    """This machine's wall clock: the real time plus its error."""

    def __init__(self, error: float) -> None:
        self.error = error

    def __call__(self) -> float:
        return NOW + self.error


class NapCat:
    """Her account's connection, answering as NapCat does: the group not muted whole,
    her ban ending `ends` (QQ's time)."""

    def __init__(self, ends: float) -> None:
        self.self_id = SELF_ID
        self.ends = ends

    async def get_group_info(self, **params: Any) -> dict[str, Any]:
        return {"group_id": int(params["group_id"]), "group_all_shut": 0}

    async def get_group_member_info(self, **params: Any) -> dict[str, Any]:
        return {"role": "member", "shut_up_timestamp": int(self.ends)}


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mute_watch, "BAN_END_CHECK_SECONDS", 0.01)
    monkeypatch.setattr(mute_watch, "MUTE_CHECK_GAP_SECONDS", 0.0)


def watching(bot: NapCat, clock: WallClock) -> tuple[MuteWatch, QuietGroups]:
    groups = QuietGroups()  # the plugin's: the monotonic clock
    connections = Connections(lambda account: bot if account == SELF_ID else None)
    return MuteWatch(connections, groups, wall_clock=clock), groups


async def checked() -> None:
    """Long enough for a few of the watch's checks against the wall clock."""
    await asyncio.sleep(0.1)


async def test_a_ban_learned_with_the_clock_behind_ends_when_qq_ends_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = WallClock(BEHIND)
    bot = NapCat(ends=NOW + 600)
    watch, groups = watching(bot, clock)
    assert await watch.first_refusal(bot, GROUP)  # type: ignore[arg-type]
    await checked()
    why = groups.why(SELF_ID, GROUP)  # by this clock, 8 h 10 min to go
    assert why is not None and why.reason == "banned" and (why.seconds_left or 0) > 8 * 3600
    clock.error = 0.0  # NTP puts it right: the ban has 10 minutes to go
    with caplog.at_level(logging.INFO, logger=mute_watch.__name__):
        await checked()
        assert groups.quiet(SELF_ID, GROUP)
        clock.error = 601.0  # QQ's end has passed
        await checked()
    assert not groups.quiet(SELF_ID, GROUP)
    assert [r.getMessage() for r in caplog.records if "answers there" in r.getMessage()] == [
        f"QQ: the ban on account {SELF_ID} in group {GROUP} has ended by the time QQ gave "
        "for its end (this machine's clock was put right since); she answers there again"
    ]


async def test_a_ban_found_at_connect_with_the_clock_behind_ends_when_qq_ends_it() -> None:
    clock = WallClock(BEHIND)
    bot = NapCat(ends=NOW + 600)
    watch, groups = watching(bot, clock)
    groups.sent(SELF_ID, GROUP)  # she spoke there before the connection dropped
    await watch.recheck(bot)  # type: ignore[arg-type]
    assert groups.is_banned(SELF_ID, GROUP)
    clock.error = 601.0
    await checked()
    assert not groups.quiet(SELF_ID, GROUP)


async def test_with_the_clock_right_the_ban_is_held_to_its_end() -> None:
    clock = WallClock(0.0)
    bot = NapCat(ends=NOW + 600)
    watch, groups = watching(bot, clock)
    assert await watch.first_refusal(bot, GROUP)  # type: ignore[arg-type]
    await checked()
    why = groups.why(SELF_ID, GROUP)
    assert why is not None and why.reason == "banned" and 590 < (why.seconds_left or 0) <= 600


async def test_a_ban_notice_after_replaces_the_end_qq_reported() -> None:
    """A notice gives the ban's length from now: a wall time read before says nothing
    of it."""
    clock = WallClock(BEHIND)
    bot = NapCat(ends=NOW + 600)
    watch, groups = watching(bot, clock)
    assert await watch.first_refusal(bot, GROUP)  # type: ignore[arg-type]
    notice = GroupBanNoticeEvent.model_validate(ban_notice("ban", SELF_ID, 3600))
    await watch.noticed(bot, notice)  # type: ignore[arg-type]
    clock.error = 601.0
    await checked()
    assert groups.is_banned(SELF_ID, GROUP)


def test_no_ban_is_taken_as_longer_than_qqs_thirty_days() -> None:
    # The clock a year behind: QQ's end, 10 minutes away, reads as a year and more.
    assert ban_seconds_left({"shut_up_timestamp": NOW + 600}, NOW - 365 * 86400) == (
        MAX_BAN_SECONDS
    )
    assert MAX_BAN_SECONDS == 30 * 86400

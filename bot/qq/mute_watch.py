"""Keeping `QuietGroups` in step with the mutes on her accounts: what OneBot reports (ban
notices) and what it answers when asked (`get_group_info`, `get_group_member_info`).

- A ban notice naming her account quiets the group for the ban's length; the whole
  group's mute (`user_id` 0) quiets it until lifted, unless the account is the group's
  owner or an admin (who still speak).
- The first refused send of a run in a group asks whether the whole group is muted,
  and about her own ban there: a notice she never saw (sent while the bot was down, or
  while it reconnected: QQ groups often mute themselves each night).
- When an account (re)connects, notices sent meanwhile never come: the groups
  `QuietGroups.to_check` names are asked whether they are muted whole, and about her own
  ban there, to notice a mute or ban lifted or begun while she was away.

Where an implementation cannot say (no `group_all_shut`, no `shut_up_timestamp`: both
are extensions of OneBot v11, not in its standard), what is known stays as it was.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from nonebot.adapters.onebot.v11 import Bot, GroupBanNoticeEvent

from bot.qq.connections import Connections
from bot.qq.quiet_groups import QuietGroups

log = logging.getLogger(__name__)

# At an account's connect, the most groups asked about, and the pause before each group
# (each question asks QQ's servers, past the implementation's cache; an account is in
# hundreds of groups). A group costs one question, or two where her membership matters.
MUTE_CHECKS = 20
MUTE_CHECK_GAP_SECONDS = 1.0
# QQ bans for 30 days at most: a `shut_up_timestamp` further ahead is this machine's
# clock running behind.
MAX_BAN_SECONDS = 30 * 86400.0
# How often a ban known by its end (`shut_up_timestamp`, a wall time) is held against the
# wall clock: QQ sends no notice when a ban runs out, and `QuietGroups` counts the ban's
# length as read then on the monotonic clock, so a wall clock corrected since (NTP
# stepping it hours forward) would have kept her silent for the clock's error.
BAN_END_CHECK_SECONDS = 30.0


def all_shut_in(info: Any) -> bool | None:
    """Whether `get_group_info`'s answer says the whole group is muted: NapCat and
    LLOneBot report `group_all_shut` (-1 muted, 0 not; a number or a numeric string);
    None where it says nothing."""
    if not isinstance(info, dict):
        return None
    try:
        return int(info["group_all_shut"]) != 0
    except (KeyError, TypeError, ValueError):
        return None


def is_admin_in(info: Any) -> bool:
    """Whether `get_group_member_info`'s answer names the group's owner or an admin."""
    return isinstance(info, dict) and info.get("role") in ("owner", "admin")


def ban_seconds_left(info: Any, now: float) -> float | None:
    """Seconds left of the ban `get_group_member_info`'s answer reports at `now` (seconds
    since the epoch): `shut_up_timestamp` is when it ends (go-cqhttp, NapCat and others;
    0, or a time past, when there is none), `MAX_BAN_SECONDS` at most. None where the
    answer does not say: the field missing (the OneBot v11 standard has none), not a
    number, or negative (-1: a bridge that could not tell)."""
    if not isinstance(info, dict) or isinstance(info.get("shut_up_timestamp"), bool):
        return None
    try:
        until = float(info["shut_up_timestamp"])
    except (KeyError, TypeError, ValueError):
        return None
    if not math.isfinite(until) or until < 0:
        return None
    return min(MAX_BAN_SECONDS, max(0.0, until - now))


class MuteWatch:
    """The plugin's one watch over the mutes on her accounts: what it learns goes into
    `quiet_groups`; its questions go through `connections` (given up at once when the
    connection drops)."""

    def __init__(
        self,
        connections: Connections,
        quiet_groups: QuietGroups,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.connections = connections
        self.quiet_groups = quiet_groups
        self._wall_clock = wall_clock
        # The end of each ban learned from `shut_up_timestamp`, by the wall clock
        # (`_check_ban_ends`), and the check to come while there is one.
        self._ban_ends: dict[tuple[str, str], float] = {}
        self._ban_check: asyncio.TimerHandle | None = None

    async def noticed(self, bot: Bot, event: GroupBanNoticeEvent) -> None:
        """A ban notice (禁言). A ban on her account quiets the group for its length; the
        whole group's mute (`user_id` 0) quiets it until lifted, unless the account is an
        admin there (an admin still speaks). Each lift ends its own quiet (not the
        other's), and the quiet a refusal began."""
        quiet = self.quiet_groups
        account, group = str(event.self_id), str(event.group_id)
        if str(event.user_id) == account:
            self._ban_ends.pop((account, group), None)  # a length, or a lift, told now
        if str(event.user_id) == account and event.sub_type == "ban" and event.duration > 0:
            quiet.banned(account, group, float(event.duration))
            log.info(
                "QQ: account %s is banned in group %s for %d s", account, group, event.duration
            )
        elif str(event.user_id) == "0" and event.sub_type == "ban":
            if await self.admin_in(bot, event.group_id):
                log.info(
                    "QQ: group %s is muted whole; account %s is an admin there", group, account
                )
                return
            quiet.muted_whole(account, group)
            log.info(
                "QQ: group %s is muted whole (全员禁言); account %s does not answer there "
                "until the mute is lifted",
                group,
                account,
            )
        elif event.sub_type == "lift_ban" and str(event.user_id) in (account, "0"):
            if str(event.user_id) == "0" and quiet.is_muted_whole(account, group):
                log.info(
                    "QQ: group %s's whole mute is lifted; account %s answers again", group, account
                )
            quiet.lifted(account, group, whole=str(event.user_id) == "0")

    async def first_refusal(self, bot: Bot, group: str) -> bool:
        """A first refused send there: is the whole group muted, or her account banned, a
        notice she never saw? Asked once per run of refusals (`ReplySender`). Her own
        member info says whether she is an admin (who speaks through a whole mute) and,
        where the implementation reports `shut_up_timestamp`, when a ban on her ends: the
        group is quiet until then, the ban's real length, not the refusals' few minutes.
        True when either explains the refusal (it is not counted then: after a ban's end,
        the next refusal asks again); where no implementation says, the refusals quiet the
        group for a while as before."""
        account = str(bot.self_id)
        shut = await self.all_shut(bot, group)
        member = await self._member_info(bot, int(group))
        muted = bool(shut) and not is_admin_in(member)
        if muted:
            self.quiet_groups.muted_whole(account, group)
            log.info(
                "QQ: group %s is muted whole (全员禁言, begun before she saw it); account %s "
                "does not answer there until the mute is lifted",
                group,
                account,
            )
        left = ban_seconds_left(member, self._wall_clock())
        if left:
            self._hold_ban(account, group, left)
            log.info(
                "QQ: account %s is banned in group %s (begun before she saw it); she does "
                "not answer there for %d s more",
                account,
                group,
                round(left),
            )
            self._check_ban_ends_later()
        return muted or bool(left)

    async def recheck(self, bot: Bot) -> None:
        """An account (re)connected: notices sent meanwhile never come (the OneBot
        implementation restarted, the network dropped). The groups `to_check` names,
        `MUTE_CHECKS` at most, one every `MUTE_CHECK_GAP_SECONDS`, are asked whether they
        are muted whole and, where a ban on her matters (one recorded, or a group she
        spoke in and can speak in), about her ban there. What was lifted meanwhile ends
        its quiet, what began meanwhile begins it. Nothing is known at a first connect:
        the first refused send asks."""
        account = str(bot.self_id)
        try:
            for group in self.quiet_groups.to_check(account, MUTE_CHECKS):
                await asyncio.sleep(MUTE_CHECK_GAP_SECONDS)
                if self.connections.lost(bot).is_set():
                    return  # the next connection asks again
                member = await self._recheck_whole_mute(bot, group)
                if self._ban_matters(account, group):
                    if member is None:
                        member = await self._member_info(bot, int(group))
                    self._recheck_ban(account, group, member)
        finally:
            self._check_ban_ends_later()

    def _ban_matters(self, account: str, group: str) -> bool:
        """Whether `recheck` asks about her ban there: one is recorded (its lift missed
        keeps her silent until its end), or she spoke there and no whole mute silences
        her now (a ban missed costs a generation and a refused send)."""
        quiet = self.quiet_groups
        if quiet.is_banned(account, group):
            return True
        return quiet.has_spoken(account, group) and not quiet.is_muted_whole(account, group)

    async def _recheck_whole_mute(self, bot: Bot, group: str) -> Any:
        """The whole mute's part of `recheck`; her member info where it was asked (to
        learn whether she is an admin), else None."""
        account = str(bot.self_id)
        shut = await self.all_shut(bot, group)
        was_muted = self.quiet_groups.is_muted_whole(account, group)
        if shut is False and was_muted:
            self.quiet_groups.lifted(account, group, whole=True)
            log.info(
                "QQ: group %s's whole mute was lifted while account %s was away; she "
                "answers there again",
                group,
                account,
            )
        elif shut and not was_muted:
            member = await self._member_info(bot, int(group))
            if not is_admin_in(member):
                self.quiet_groups.muted_whole(account, group)
                log.info(
                    "QQ: group %s is muted whole (全员禁言, begun while account %s was away); "
                    "she does not answer there until the mute is lifted",
                    group,
                    account,
                )
            return member
        return None

    def _recheck_ban(self, account: str, group: str, member: Any) -> None:
        """Her own ban there as `get_group_member_info` reports it now; kept as it was
        where the implementation does not say."""
        left = ban_seconds_left(member, self._wall_clock())
        was_banned = self.quiet_groups.is_banned(account, group)
        if left is None:
            log.debug(
                "QQ: no ban time of account %s in group %s (no shut_up_timestamp)", account, group
            )
        elif left > 0:
            self._hold_ban(account, group, left)  # its end as QQ says, now
            if not was_banned:
                log.info(
                    "QQ: account %s was banned in group %s while she was away; she does not "
                    "answer there for %d s more",
                    account,
                    group,
                    round(left),
                )
        elif was_banned:
            self._ban_ends.pop((account, group), None)
            self.quiet_groups.lifted(account, group, whole=False)
            log.info(
                "QQ: the ban on account %s in group %s was lifted while she was away; she "
                "answers there again",
                account,
                group,
            )

    def _hold_ban(self, account: str, group: str, left: float) -> None:
        """A ban QQ says ends `left` seconds from the wall clock's now: quiet for that
        long, and its end kept as a wall time, which `_check_ban_ends` holds it to."""
        self.quiet_groups.banned(account, group, left)
        self._ban_ends[(account, group)] = self._wall_clock() + left

    def _check_ban_ends_later(self) -> None:
        """Check the bans known by their ends in `BAN_END_CHECK_SECONDS`, unless a check
        is already due or there are none."""
        if self._ban_ends and self._ban_check is None:
            loop = asyncio.get_running_loop()
            self._ban_check = loop.call_later(BAN_END_CHECK_SECONDS, self._check_ban_ends)

    def _check_ban_ends(self) -> None:
        """End each ban whose end, a wall time from QQ, the wall clock has passed: one
        learned while the clock ran behind (hours, a clock kept in local time read as
        UTC) ends when QQ ends it, once the clock is put right. A ban over meanwhile (by
        the monotonic clock, or lifted) is forgotten here."""
        self._ban_check = None
        now = self._wall_clock()
        for (account, group), until in list(self._ban_ends.items()):
            if not self.quiet_groups.is_banned(account, group):
                del self._ban_ends[(account, group)]
            elif now >= until:
                del self._ban_ends[(account, group)]
                self.quiet_groups.lifted(account, group, whole=False)
                log.info(
                    "QQ: the ban on account %s in group %s has ended by the time QQ gave "
                    "for its end (this machine's clock was put right since); she answers "
                    "there again",
                    account,
                    group,
                )
        self._check_ban_ends_later()

    async def all_shut(self, bot: Bot, group: str) -> bool | None:
        """Whether the whole group is muted now, asked past the implementation's cache;
        None when it cannot say (see `all_shut_in`)."""
        try:
            info = await self.connections.call(
                bot, lambda: bot.get_group_info(group_id=int(group), no_cache=True)
            )
        except Exception as exc:
            log.debug("QQ: no info of group %s from account %s: %s", group, bot.self_id, exc)
            return None
        return all_shut_in(info)

    async def admin_in(self, bot: Bot, group_id: int) -> bool:
        """Whether the account is the group's owner or an admin (who speak through a whole
        group's mute); False when the implementation cannot say."""
        return is_admin_in(await self._member_info(bot, group_id))

    async def _member_info(self, bot: Bot, group_id: int) -> Any:
        """The account's own `get_group_member_info` there, past the cache; None when the
        implementation does not answer."""
        try:
            return await self.connections.call(
                bot,
                lambda: bot.get_group_member_info(
                    group_id=group_id, user_id=int(bot.self_id), no_cache=True
                ),
            )
        except Exception as exc:
            log.debug(
                "QQ: no member info of account %s in group %s: %s", bot.self_id, group_id, exc
            )
            return None

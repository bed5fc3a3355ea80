"""Where she cannot post on Discord: timed out by a moderator, denied Send Messages
(Send Messages in Threads in a thread), or in a thread a moderator locked (only Manage
Threads writes there). The message handler generates nothing there
(`bot.discord.adapter.answer`); `/atri status` says why, in the channel it is asked in,
and to admins in the server's other channels where someone spoke to her meanwhile
(`SilentChannels`).

A moderator's timeout needs no check of its own: discord.py's `permissions_for` already
denies a timed-out member everything but View Channel and Read Message History.
"""

from __future__ import annotations

from collections import OrderedDict

import discord

from bot.commands import CannotPost, CannotPostReason

# Channels remembered at most (the oldest forgotten first): only those where someone
# spoke to her while she could not post, in every server she is in.
CHANNELS_KEPT = 1000


def why_not(channel: object, me: discord.Member | None) -> CannotPostReason | None:
    """Why she cannot post in the server channel or thread `channel` now; None when she
    can, in a DM, or when her permissions there are not known."""
    if me is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return None
    try:
        permissions = channel.permissions_for(me)
    except discord.ClientException:  # a thread whose channel is not cached
        return None
    if isinstance(channel, discord.Thread):
        if not permissions.send_messages_in_threads:
            return _denied(me, "no_send_in_threads")
        # Discord refuses her posts there (160005) until a moderator unlocks it.
        if channel.locked and not permissions.manage_threads:
            return "thread_locked"
        return None
    return None if permissions.send_messages else _denied(me, "no_send")


def _denied(me: discord.Member, reason: CannotPostReason) -> CannotPostReason:
    """A timeout denies everything: it, not the permission, is the reason then."""
    return "timed_out" if me.is_timed_out() and me.timed_out_until is not None else reason


def cannot_post_in(
    channel: discord.abc.GuildChannel | discord.Thread, me: discord.Member
) -> CannotPost | None:
    """`why_not`, as `/atri status` says it: the channel as Discord shows a link to it,
    a timeout's end in the reader's own time zone and language."""
    reason = why_not(channel, me)
    if reason is None:
        return None
    ends = ""
    if reason == "timed_out" and me.timed_out_until is not None:
        ends = discord.utils.format_dt(me.timed_out_until, "f")
    return CannotPost(channel.mention, reason, ends)


class SilentChannels:
    """Server channels where a message for her came while she could not post there."""

    def __init__(self, kept: int = CHANNELS_KEPT) -> None:
        self.kept = kept
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()

    def seen(self, guild_id: int, channel_id: int) -> None:
        key = (guild_id, channel_id)
        self._seen.pop(key, None)
        self._seen[key] = None
        while len(self._seen) > self.kept:
            self._seen.popitem(last=False)

    def in_guild(self, guild: discord.Guild, besides: int = 0) -> list[CannotPost]:
        """Those of `guild` but `besides` where she still cannot post, checked now, the
        latest first; one she can post in again, or gone, is forgotten."""
        found = []
        for key in reversed([key for key in self._seen if key[0] == guild.id]):
            channel = guild.get_channel_or_thread(key[1])
            blocked = None if channel is None else cannot_post_in(channel, guild.me)
            if blocked is None:
                del self._seen[key]
            elif key[1] != besides:
                found.append(blocked)
        return found

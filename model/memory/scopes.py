"""Scope keys: which conversation a message belongs to, built from platform ids.

A scope is a string such as `discord:user:42` or `qq:chan:7:user:42`; `scope_key` makes
one, `parse_scope` reads one back (purge uses it to find the room lines to delete).
"""

from __future__ import annotations

from model.protocol import ScopeKind


def channel_prefix(platform: str, channel_id: str, guild_id: str = "") -> str:
    """The key prefix shared by every scope that lives in one channel."""
    place = f"{guild_id}/{channel_id}" if guild_id else channel_id
    return f"{platform}:chan:{place}"


def scope_key(
    kind: ScopeKind, platform: str, user_id: str, channel_id: str = "", guild_id: str = ""
) -> str:
    """The memory key for a message. Ids only, never display names (those change)."""
    if kind == "user" or not channel_id:
        return f"{platform}:user:{user_id}"
    chan = channel_prefix(platform, channel_id, guild_id)
    if kind == "user_in_channel":
        return f"{chan}:user:{user_id}"
    return chan


def parse_scope(scope: str) -> tuple[str, str, str]:
    """(platform, user id, channel prefix) of a scope key, "" where it names none."""
    platform, _, rest = scope.partition(":")
    if rest.startswith("user:"):
        return platform, rest.removeprefix("user:"), ""
    if rest.startswith("chan:"):
        place, sep, user_id = rest.removeprefix("chan:").partition(":user:")
        return platform, user_id if sep else "", f"{platform}:chan:{place}"
    return platform, "", ""

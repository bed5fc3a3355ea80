"""`[discord]`'s allow and block lists: who she talks to, and where.

One rule for chat messages (`adapter.is_permitted`) and for the member slash commands
(`commands.member_commands`), so that a person or channel the lists shut out is shut out
of both."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from atri.config import DiscordSettings

log = logging.getLogger(__name__)

# Looks up the roles a user holds in the servers ATRI is in (for a DM); raises
# `RolesUnknown` when Discord does not say.
RoleLookup = Callable[[int], Awaitable[set[int]]]


class RolesUnknown(Exception):
    """Discord refused or failed to say which roles someone holds in a server (an outage,
    a permission taken away): their DM is neither answered nor let through, since a
    blocked role could not be told apart; str() is the log's sentence."""

    def __init__(self, user_id: int, guild: str, why: str) -> None:
        super().__init__(
            f"Discord did not say which roles user {user_id} holds in the server {guild}"
            f" ({why}); their DM is left unanswered, and asked about again at their next one."
        )


def parent_id(channel: Any) -> int | None:
    """A thread's parent channel; None for anything else."""
    found = getattr(channel, "parent_id", None)
    return found if isinstance(found, int) else None


def channel_ids(channel: Any) -> set[int]:
    """The channel, and for a thread its parent, so lists naming a channel cover threads."""
    if channel is None:
        return set()
    parent = parent_id(channel)
    return {channel.id} if parent is None else {channel.id, parent}


def lists_permit(
    cfg: DiscordSettings, user_id: int, roles: set[int], channels: set[int], in_guild: bool
) -> bool:
    """True unless the lists shut this person out here (blocks win). In a DM `roles` are
    those the person holds in the servers ATRI shares with them."""
    if user_id in cfg.blocked_users or roles & set(cfg.blocked_roles):
        return False
    if channels & set(cfg.blocked_channels):
        return False
    if in_guild and cfg.allowed_channels and not channels & set(cfg.allowed_channels):
        return False
    if cfg.allowed_users or cfg.allowed_roles:
        return user_id in cfg.allowed_users or bool(roles & set(cfg.allowed_roles))
    return True


async def interaction_permitted(
    interaction: discord.Interaction[Any], cfg: DiscordSettings, dm_roles: RoleLookup | None
) -> bool:
    """The lists applied to whoever runs a slash command, where they run it."""
    user = interaction.user
    in_guild = interaction.guild_id is not None
    if in_guild:
        roles = {role.id for role in getattr(user, "roles", [])}
    elif (cfg.allowed_roles or cfg.blocked_roles) and dm_roles is not None:
        try:
            roles = await dm_roles(user.id)
        except RolesUnknown as exc:
            log.warning("%s", exc)
            return False
    else:
        roles = set()
    return lists_permit(cfg, user.id, roles, channel_ids(interaction.channel), in_guild)

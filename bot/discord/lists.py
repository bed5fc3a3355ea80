"""`[discord]`'s allow and block lists: who she talks to, and where.

One rule for chat messages (`adapter.is_permitted`) and for the member slash commands
(`commands.member_commands`), so that a person or channel the lists shut out is shut out
of both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from atri.config import DiscordSettings

# Looks up the roles a user holds in the servers ATRI is in (for a DM).
RoleLookup = Callable[[int], Awaitable[set[int]]]


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
        roles = await dm_roles(user.id)
    else:
        roles = set()
    return lists_permit(cfg, user.id, roles, channel_ids(interaction.channel), in_guild)

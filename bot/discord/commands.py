"""Slash commands: `/atri …` for everyone, `/atri-admin …` for server managers.

Discord can hide a command from members only as a whole top-level command (its
`default_member_permissions`), never a single subcommand, so the admin commands get a
group of their own that members without Manage Server do not see. Every admin command
is checked again here through `bot.commands`, which logs refused attempts.

Answers are ephemeral. Discord wants a first response within 3 seconds: a command
that has not finished after `defer_after` seconds is deferred and answered by a follow-up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from atri.config import DiscordSettings
from bot import commands
from bot.commands import Actor, ChannelModes, CommandResult
from bot.discord.text import outgoing_parts
from bot.lines import lines
from model.protocol import ChannelMode, Worker

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Well inside Discord's 3-second limit for the first response, network time included.
DEFER_AFTER_SECONDS = 1.0


def is_admin(interaction: discord.Interaction[Any], settings: DiscordSettings) -> bool:
    """Manage Server (Discord's own resolution, Administrator included), `admin_ids`, or
    a role in `admin_roles` (what a server grants `/atri-admin` to under Integrations)."""
    if interaction.user.id in settings.admin_ids:
        return True
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    user = interaction.user
    if not isinstance(user, discord.Member):
        return False
    if any(role.id in settings.admin_roles for role in user.roles):
        return True
    return user.guild_permissions.manage_guild


def actor_for(interaction: discord.Interaction[Any], settings: DiscordSettings) -> Actor:
    """Ids as the message handler uses them: a DM has no channel, so memory is per user."""
    in_guild = interaction.guild_id is not None
    return Actor(
        platform=PLATFORM,
        user_id=str(interaction.user.id),
        is_admin=is_admin(interaction, settings),
        channel_id=str(interaction.channel_id or "") if in_guild else "",
        guild_id=str(interaction.guild_id) if in_guild else "",
    )


async def respond(
    interaction: discord.Interaction[Any],
    work: Awaitable[CommandResult],
    defer_after: float = DEFER_AFTER_SECONDS,
) -> None:
    """Answer ephemerally; defer first when `work` is not done within `defer_after`."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=defer_after)
    if not done:
        await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        text = (await task).text
    except Exception:
        log.exception("Discord command %s failed", interaction.command and interaction.command.name)
        text = lines().failed
    parts = outgoing_parts(text) or ["……"]
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(parts.pop(0), ephemeral=True)
        for part in parts:
            await interaction.followup.send(part, ephemeral=True)
    except discord.HTTPException as exc:  # e.g. the interaction expired meanwhile
        log.warning("could not answer Discord command %s: %s", interaction.id, exc)


async def _with_discord_details(
    result: Awaitable[CommandResult], client: discord.Client, admin: bool
) -> CommandResult:
    done = await result
    if not admin:
        return done
    seconds = client.latency  # nan before the first connection, inf before a heartbeat
    latency = f"{seconds * 1000:.0f} ms" if math.isfinite(seconds) else "?"
    extra = lines().discord_details.format(latency=latency, servers=len(client.guilds))
    return CommandResult(f"{done.text}\n{extra}", ok=done.ok)


class AtriCommands(app_commands.Group):
    """`/atri`: what every member may do."""

    def __init__(self, worker: Worker, settings: DiscordSettings, defer_after: float) -> None:
        super().__init__(name="atri", description="和亚托莉有关的命令")
        self.worker = worker
        self.settings = settings
        self.defer_after = defer_after

    @app_commands.command(name="reset", description="让亚托莉忘掉和你的对话")
    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        await respond(interaction, commands.reset_self(self.worker, actor), self.defer_after)

    @app_commands.command(name="memory", description="亚托莉记得关于你的事：摘要和最近的对话")
    async def memory(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        await respond(interaction, commands.remembered(self.worker, actor), self.defer_after)

    @app_commands.command(name="status", description="亚托莉现在的状态：模型版本、排队、运行时间")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        work = _with_discord_details(
            commands.status(self.worker, actor), interaction.client, actor.is_admin
        )
        await respond(interaction, work, self.defer_after)


CHANNEL_MODES: dict[str, ChannelMode] = {"off": "off", "mention": "mention", "all": "all"}
MODE_CHOICES = [
    app_commands.Choice(name="关闭：在这里不说话", value="off"),
    app_commands.Choice(name="被叫到才回答（默认）", value="mention"),
    app_commands.Choice(name="每条消息都回答", value="all"),
]


class AtriAdminCommands(app_commands.Group):
    """`/atri-admin`: hidden from members without Manage Server and never offered in
    DMs (there is no server to manage there); checked again anyway."""

    def __init__(
        self,
        worker: Worker,
        settings: DiscordSettings,
        defer_after: float,
        modes: ChannelModes | None = None,
    ) -> None:
        super().__init__(
            name="atri-admin",
            description="管理亚托莉的记忆和模型（管理员）",
            default_permissions=discord.Permissions(manage_guild=True),
            guild_only=True,
        )
        self.worker = worker
        self.settings = settings
        self.defer_after = defer_after
        self.modes = modes

    @app_commands.command(
        name="channel", description="在这个频道打开或关闭亚托莉，或让她每条都回答"
    )
    @app_commands.describe(mode="她在这个频道怎么说话")
    @app_commands.choices(mode=MODE_CHOICES)
    async def channel(
        self, interaction: discord.Interaction[Any], mode: app_commands.Choice[str]
    ) -> None:
        actor = actor_for(interaction, self.settings)
        chosen = CHANNEL_MODES.get(mode.value, "mention")
        await respond(interaction, self._set_mode(actor, chosen), self.defer_after)

    async def _set_mode(self, actor: Actor, mode: ChannelMode) -> CommandResult:
        result = await commands.set_channel_mode(self.worker, actor, mode)
        if self.modes is not None:
            self.modes.forget()
        return result

    @app_commands.command(name="reset-user", description="重置某位成员和亚托莉的对话")
    @app_commands.describe(user="要重置对话的成员")
    async def reset_user(self, interaction: discord.Interaction[Any], user: discord.User) -> None:
        actor = actor_for(interaction, self.settings)
        work = commands.reset_user(self.worker, actor, str(user.id))
        await respond(interaction, work, self.defer_after)

    @app_commands.command(name="reset-channel", description="重置这个频道里的对话")
    async def reset_channel(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        await respond(interaction, commands.reset_channel(self.worker, actor), self.defer_after)

    @app_commands.command(name="reload", description="立即检查并加载新的模型版本")
    async def reload(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        await respond(interaction, commands.reload(self.worker, actor), self.defer_after)

    @app_commands.command(name="rollback", description="退回上一个模型版本")
    async def rollback(self, interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, self.settings)
        await respond(interaction, commands.rollback(self.worker, actor), self.defer_after)


def add_commands(
    tree: app_commands.CommandTree[Any],
    worker: Worker,
    settings: DiscordSettings,
    defer_after: float = DEFER_AFTER_SECONDS,
    modes: ChannelModes | None = None,
) -> None:
    tree.add_command(AtriCommands(worker, settings, defer_after))
    tree.add_command(AtriAdminCommands(worker, settings, defer_after, modes))
    # Guild-scoped commands are looked up per guild when their interactions arrive.
    for guild_id in settings.guild_ids:
        tree.copy_global_to(guild=discord.Object(guild_id))


def tree_digest(tree: app_commands.CommandTree[Any], targets: list[int | None]) -> str:
    payload = {
        "targets": targets,
        "commands": [command.to_dict(tree) for command in tree.get_commands()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


async def sync_commands(
    client: discord.Client,
    tree: app_commands.CommandTree[Any],
    guild_ids: list[int],
    state_path: Path,
) -> bool:
    """Register the commands with Discord when they changed since the last sync.

    Guild-scoped when `guild_ids` is set (instant), global otherwise (Discord may take
    a while to show them). Commands left behind where a previous sync put them are
    cleared, so switching between the two shows no duplicates. Returns whether it synced.
    """
    targets: list[int | None] = [*sorted(guild_ids)] if guild_ids else [None]
    application_id = client.application_id
    digest = tree_digest(tree, targets)
    previous = _read_state(state_path)
    if previous.get("digest") == digest and previous.get("application_id") == application_id:
        log.info("Discord slash commands unchanged; not syncing")
        return False
    try:
        for target in targets:
            await tree.sync(guild=None if target is None else discord.Object(target))
        if application_id is not None and previous.get("application_id") == application_id:
            for stale in previous.get("targets", []):
                if stale in targets:
                    continue
                if stale is None:
                    await client.http.bulk_upsert_global_commands(application_id, payload=[])
                else:
                    await client.http.bulk_upsert_guild_commands(application_id, stale, payload=[])
    except discord.Forbidden:
        log.error(
            "Discord refused to register ATRI's slash commands: invite the bot with the "
            "applications.commands scope (see the README's Discord section)."
        )
        return False
    except discord.HTTPException as exc:
        log.error("Discord slash commands could not be synced (%s); will try at next start.", exc)
        return False
    _write_state(
        state_path, {"digest": digest, "targets": targets, "application_id": application_id}
    )
    log.info(
        "Discord slash commands synced to %s",
        "servers " + str(targets) if guild_ids else "all servers",
    )
    return True

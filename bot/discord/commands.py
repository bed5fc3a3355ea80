"""Slash commands: `/atri …` for everyone, `/atri-admin …` for server managers (named
after `[bot] command_name`: `/eileen`, `/eileen-admin`).

Discord can hide a command from members only as a whole top-level command (its
`default_member_permissions`), never a single subcommand, so the admin commands get a
group of their own that members without Manage Server do not see. Every admin command
is checked again here through `bot.commands`, which logs refused attempts.

Both are installed with her in a server only (never to a user's account, where they would
show in servers she is not in and in other people's DMs) and offered in servers and, for
`/atri`, in her own DMs. An interaction from anywhere else is refused before it runs.

The menu is localised for each member's own Discord client (`MenuTranslator`): a
member on a Chinese client sees `/atri 重置`, whatever language she is served in. The
names registered, and the names interactions arrive with, stay the English ones.

Answers are ephemeral. Discord wants a first response within 3 seconds: a command
that has not finished after `defer_after` seconds is deferred and answered by a follow-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from atri.config import ADMIN_SUFFIX, DiscordSettings
from atri.files import write_text_atomic
from bot import commands
from bot.channel_modes import ChannelModeCache
from bot.commands import Actor, CannotPost, CommandResult
from bot.discord.cannot_post import SilentChannels, cannot_post_in
from bot.discord.lists import RoleLookup, interaction_permitted
from bot.discord.text import outgoing_parts
from bot.lines import DEFAULT_COMMAND, BotLines, lines, slash_name, slash_text
from model.protocol import ChannelMode, Worker

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Well inside Discord's 3-second limit for the first response, network time included.
DEFER_AFTER_SECONDS = 1.0
# Discord's limit for a command's or an option's description and for a choice's name.
DESCRIPTION_MAX = 100


# Installed with her in a server, never to a user's account (Discord's "User Install").
GUILD_INSTALL_ONLY = app_commands.AppInstallationType(guild=True, user=False)
# Where each group is offered: never group DMs or DMs between other people.
MEMBER_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=False)
ADMIN_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=False, private_channel=False)


def invoked_where_installed(
    interaction: discord.Interaction[Any], allowed: app_commands.AppCommandContext
) -> bool:
    """From a server that installed her (not a user's install of her commands in some
    other server, whose member permissions say nothing about hers) or from her own DM,
    as far as `allowed` lets the command be used there."""
    context = interaction.context
    if interaction.guild_id is not None:
        # A command installed on a user's account carries only that user as its owner.
        return allowed.guild and interaction.is_guild_integration()
    if context.private_channel:
        return False
    # Discord names the context of every interaction; one without it is her DM.
    return allowed.dm_channel and (context.dm_channel or not context.guild)


def is_owner(interaction: discord.Interaction[Any], settings: DiscordSettings) -> bool:
    """One of the bot's owners: `admin_ids`, or who owns its application in Discord's
    developer portal (its owner, or its team's admins and developers), as discord.py's
    `Bot.is_owner` reads it. They alone act on what every server shares (the adapter
    version: reload, rollback)."""
    if interaction.user.id in settings.admin_ids:
        return True
    app = interaction.client.application
    if app is None:
        return False
    if app.team is not None:
        owners = (discord.TeamMemberRole.admin, discord.TeamMemberRole.developer)
        return any(m.id == interaction.user.id and m.role in owners for m in app.team.members)
    return app.owner.id == interaction.user.id


def is_admin(interaction: discord.Interaction[Any], settings: DiscordSettings) -> bool:
    """Manage Server (Discord's own resolution, Administrator included), the bot's
    owners (`is_owner`), or a role in `admin_roles` (what a server grants `/atri-admin`
    to under Integrations). Never from a server that did not install her, whatever its
    member permissions say."""
    if not invoked_where_installed(interaction, MEMBER_CONTEXTS):
        return False
    if is_owner(interaction, settings):
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
        is_owner=is_owner(interaction, settings),
    )


async def respond(
    interaction: discord.Interaction[Any],
    work: Awaitable[CommandResult],
    defer_after: float = DEFER_AFTER_SECONDS,
) -> None:
    """Answer ephemerally; defer first when `work` is not done within `defer_after`."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=defer_after)
    answerable = True
    if not done:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            # Expired (it reached her after Discord's 3 s), or answered already (the same
            # interaction delivered twice): the work still ends, and no answer can go out.
            log.warning("could not defer %s: %s%s", command_named(interaction), exc, _why(exc))
            answerable = False
    try:
        text = (await task).text
    except Exception:
        log.exception("%s failed", command_named(interaction))
        text = lines().failed
    if not answerable:
        return
    parts = outgoing_parts(text) or ["……"]
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(parts.pop(0), ephemeral=True)
        for part in parts:
            await interaction.followup.send(part, ephemeral=True)
    except discord.HTTPException as exc:  # e.g. the interaction expired meanwhile
        log.warning("could not answer %s: %s%s", command_named(interaction), exc, _why(exc))


# Discord's codes for an interaction it no longer takes answers to, and why that happens.
_EXPIRED = {
    10062: (
        " (it reached ATRI after Discord's 3 s to acknowledge a command: this machine or its"
        " event loop was too busy, or its network slow; the command's"
        " work was still done)"
    ),
    10015: " (15 minutes passed since the command: its follow-ups are no longer taken)",
}


_EXPIRED_NAMES = {10062: "Unknown interaction", 10015: "Unknown Webhook"}


def _why(exc: discord.HTTPException) -> str:
    """Why Discord refused an interaction's answer, where it expired. By its code, or by
    its message where the body came without a JSON content type (a proxy's)."""
    code = exc.code or next((c for c, name in _EXPIRED_NAMES.items() if name in exc.text), 0)
    return _EXPIRED.get(code, "")


def command_named(interaction: discord.Interaction[Any]) -> str:
    """The command, who used it and where, for a log line (the interaction's id alone
    told the operator nothing)."""
    name = interaction.command.qualified_name if interaction.command else "?"
    where = f" in channel {interaction.channel_id}" if interaction.channel_id else " in a DM"
    return (
        f"Discord command /{name} of user {interaction.user.id}{where} "
        f"(interaction {interaction.id})"
    )


async def answer_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """A command discord.py could not run (an option missing or not one of its choices,
    a subcommand Discord still offers from an older sync): one clear line, ephemeral,
    instead of "The application did not respond" and a traceback in the log."""
    failed = isinstance(error, app_commands.CommandInvokeError)
    if failed:
        log.error("%s failed", command_named(interaction), exc_info=error)
    else:
        log.info("%s not run: %s", command_named(interaction), error)
    if isinstance(error, ServersOnly):
        text = lines().admin_in_servers_only
    elif isinstance(error, NotListed):
        text = lines().not_listed
    else:
        text = lines().failed if failed else lines().command_not_understood
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not answer %s: %s%s", command_named(interaction), exc, _why(exc))


async def _with_discord_details(
    result: Awaitable[CommandResult], client: discord.Client, admin: bool
) -> CommandResult:
    done = await result
    if not admin:
        return done
    seconds = client.latency  # nan before the first connection, inf before a heartbeat
    latency = f"{seconds * 1000:.0f} ms" if math.isfinite(seconds) else "?"
    said = lines()
    extra = said.counted(said.discord_details, latency=latency, servers=len(client.guilds))
    return CommandResult(f"{done.text}\n{extra}", ok=done.ok)


def fit(text: str) -> str:
    """Within Discord's limit for a description or a choice's name (a card may give her
    a long name): one over it would make Discord refuse the whole set of commands."""
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


# The client languages the menu is localised for, and the lines (`bot.lines`) each reads.
MENU_LOCALES: dict[discord.Locale, str] = {
    discord.Locale.chinese: "zh",
    discord.Locale.taiwan_chinese: "zh-TW",
    discord.Locale.japanese: "ja",
    discord.Locale.american_english: "en",
    discord.Locale.british_english: "en",
}
_NAMES = (
    app_commands.TranslationContextLocation.command_name,
    app_commands.TranslationContextLocation.parameter_name,
)


def menu_text(said: BotLines, field: str) -> app_commands.locale_str:
    """`said`'s `field` (`slash_reset`, ...) as the menu's default text, carrying what
    `MenuTranslator` needs to say it in each client language."""
    return app_commands.locale_str(fit(getattr(said, field)), field=field, her=said.name)


def menu_name(name: str) -> app_commands.locale_str:
    """A subcommand's or option's name, localised by `MenuTranslator`."""
    return app_commands.locale_str(name)


class MenuTranslator(app_commands.Translator):
    """Names and descriptions in each of `MENU_LOCALES` (Discord's `name_localizations`
    and `description_localizations`); the groups keep `[bot] command_name`'s name."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = MENU_LOCALES.get(locale)
        if language is None:
            return None
        if context.location in _NAMES:
            return slash_name(string.message, language)
        field = string.extras.get("field")
        if field is None:
            return None
        return fit(slash_text(field, string.extras["her"], language))


# A command that needs only who asks: `bot.commands.reset_self`, `reload`, ...
Action = Callable[[Worker, Actor], Awaitable[CommandResult]]


def _simple_commands(
    group: app_commands.Group,
    worker: Worker,
    settings: DiscordSettings,
    defer_after: float,
    said: BotLines,
) -> Callable[[str, str, Action], None]:
    """Adds to `group` a command with no options that runs an action for its caller,
    described by `said`'s `field` (`slash_reset`, ...)."""

    def add(name: str, field: str, action: Action) -> None:
        async def run(interaction: discord.Interaction[Any]) -> None:
            actor = actor_for(interaction, settings)
            await respond(interaction, action(worker, actor), defer_after)

        group.command(name=menu_name(name), description=menu_text(said, field))(run)

    return add


class _InstalledGroup(app_commands.Group):
    """A group installed with her in servers only, run only where it is offered."""

    def __init__(self, contexts: app_commands.AppCommandContext, **kw: Any):
        super().__init__(allowed_installs=GUILD_INSTALL_ONLY, allowed_contexts=contexts, **kw)
        self.contexts = contexts

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if invoked_where_installed(interaction, self.contexts):
            return True
        # The log's "not run:" line says why: the error's text.
        if invoked_where_installed(interaction, MEMBER_CONTEXTS):
            raise ServersOnly(
                f"user {interaction.user.id} ran it where she takes no commands (a DM: it"
                " runs in a server)"
            )
        raise NotInstalledHere(
            f"user {interaction.user.id} ran it where she takes no commands (a server that"
            " did not install her, a group DM or a DM between others)"
        )


class _ListedMembers(_InstalledGroup):
    """A group only those `[discord]`'s allow and block lists let through may run: whom
    she does not answer does not reset or read her memory either."""

    def __init__(self, settings: DiscordSettings, dm_roles: RoleLookup | None, **kw: Any):
        super().__init__(MEMBER_CONTEXTS, **kw)
        self.settings = settings
        self.dm_roles = dm_roles

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        await super().interaction_check(interaction)
        if await interaction_permitted(interaction, self.settings, self.dm_roles):
            return True
        raise NotListed(
            f"[discord]'s allow and block lists leave out user {interaction.user.id}"
            f" in channel {interaction.channel_id}"
        )


class NotListed(app_commands.CheckFailure):
    """The lists shut this person, or this channel, out."""


class NotInstalledHere(NotListed):
    """A server that did not install her (her commands added to someone's own account),
    a group DM or a DM between others: she takes no commands there."""


class ServersOnly(NotInstalledHere):
    """`/atri-admin` in a DM with her (a menu entry left from an older registration): an
    owner is told it runs in a server, not that she refuses them."""


def member_commands(
    worker: Worker,
    settings: DiscordSettings,
    defer_after: float,
    said: BotLines,
    dm_roles: RoleLookup | None = None,
    command_name: str = DEFAULT_COMMAND,
    silent: SilentChannels | None = None,
) -> app_commands.Group:
    """`/atri`: what every member may do (whom the lists let through). `silent`: the
    channels where a message for her came while she could not post (`/atri status`)."""
    group = _ListedMembers(
        settings, dm_roles, name=command_name, description=menu_text(said, "slash_atri")
    )
    simple = _simple_commands(group, worker, settings, defer_after, said)
    simple("reset", "slash_reset", commands.reset_self)
    simple("memory", "slash_memory", commands.remembered)

    @group.command(name=menu_name("forget"), description=menu_text(said, "slash_forget"))
    @app_commands.rename(confirm=menu_name("confirm"))
    @app_commands.describe(confirm=menu_text(said, "slash_forget_confirm"))
    async def forget(interaction: discord.Interaction[Any], confirm: bool = False) -> None:
        # Without `confirm`, it says what it would delete and how to go ahead.
        actor = actor_for(interaction, settings)
        await respond(interaction, commands.forget_self(worker, actor, confirm), defer_after)

    @group.command(name=menu_name("status"), description=menu_text(said, "slash_status"))
    async def status(interaction: discord.Interaction[Any]) -> None:
        actor = actor_for(interaction, settings)
        here, elsewhere = _cannot_post(interaction, silent)
        work = _with_discord_details(
            commands.status(worker, actor, here, elsewhere), interaction.client, actor.is_admin
        )
        await respond(interaction, work, defer_after)

    return group


def _cannot_post(
    interaction: discord.Interaction[Any], silent: SilentChannels | None
) -> tuple[CannotPost | None, list[CannotPost]]:
    """Where she cannot post, for `/atri status`: the channel it is asked in, and the
    server's other channels where someone spoke to her meanwhile. An answer to a command
    is the interaction's, which goes out where she may not post (a timeout's too).
    Timed out, she can post nowhere in the server: the one line says it all."""
    guild = interaction.guild
    if guild is None or guild.me is None:
        return None, []
    channel = guild.get_channel_or_thread(interaction.channel_id or 0)
    here = None if channel is None else cannot_post_in(channel, guild.me)
    if (here is not None and here.reason == "timed_out") or silent is None:
        return here, []
    return here, silent.in_guild(guild, besides=interaction.channel_id or 0)


CHANNEL_MODES: dict[str, ChannelMode] = {"off": "off", "mention": "mention", "all": "all"}
# What `/atri-admin channel channel:` offers: where people write, and forums and media
# channels, whose posts follow them; a thread or post is set from inside it.
SETTABLE_CHANNEL_TYPES = [
    discord.ChannelType.text,
    discord.ChannelType.news,
    discord.ChannelType.forum,
    discord.ChannelType.media,
    discord.ChannelType.voice,
    discord.ChannelType.stage_voice,
]


class NotInThisServer(app_commands.AppCommandError):
    """A `channel:` that is none of the channels of the server the command is run in."""


class ServerChannel(app_commands.Transformer):
    """A channel option taken only as a channel of the interaction's own server (its
    admin's to set), looked up in the client's cache of that server."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return SETTABLE_CHANNEL_TYPES

    async def transform(
        self, interaction: discord.Interaction[Any], value: Any, /
    ) -> discord.abc.GuildChannel:
        guild = interaction.guild
        found = guild.get_channel(value.id) if guild is not None else None
        if found is None:
            # Answered `command_not_understood`: the menu offers this server's channels.
            raise NotInThisServer(
                f"channel {value.id} is not a channel of server {interaction.guild_id}"
            )
        return found


def admin_commands(
    worker: Worker,
    settings: DiscordSettings,
    defer_after: float,
    said: BotLines,
    modes: ChannelModeCache | None = None,
    command_name: str = DEFAULT_COMMAND,
) -> app_commands.Group:
    """`/atri-admin`: hidden from members without Manage Server and never offered in
    DMs (there is no server to manage there); checked again anyway."""
    group = _InstalledGroup(
        ADMIN_CONTEXTS,
        name=command_name + ADMIN_SUFFIX,
        description=menu_text(said, "slash_admin"),
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    mode_choices = [
        app_commands.Choice(name=menu_text(said, "slash_mode_off"), value="off"),
        app_commands.Choice(name=menu_text(said, "slash_mode_mention"), value="mention"),
        app_commands.Choice(name=menu_text(said, "slash_mode_all"), value="all"),
    ]

    async def set_mode(actor: Actor, mode: ChannelMode, elsewhere: str = "") -> CommandResult:
        """`elsewhere`: the mention of the channel named by `channel:`, when it is not
        the one the command was run in (her answer says "here")."""
        result = await commands.set_channel_mode(worker, actor, mode)
        if modes is not None:
            modes.forget()
        if elsewhere and result.ok and not result.refused:
            said_for = lines().mode_set_for.format(channel=elsewhere)
            return dataclasses.replace(result, text=f"{result.text}\n{said_for}")
        return result

    @group.command(name=menu_name("channel"), description=menu_text(said, "slash_channel"))
    @app_commands.rename(mode=menu_name("mode"), channel=menu_name("channel"))
    @app_commands.describe(
        mode=menu_text(said, "slash_channel_mode"),
        channel=menu_text(said, "slash_channel_target"),
    )
    @app_commands.choices(mode=mode_choices)
    async def channel_mode(
        interaction: discord.Interaction[Any],
        mode: app_commands.Choice[str],
        channel: app_commands.Transform[discord.abc.GuildChannel, ServerChannel] | None = None,
    ) -> None:
        actor = actor_for(interaction, settings)
        elsewhere = ""
        if channel is not None:  # a whole forum: inside one, only its posts take commands
            actor = dataclasses.replace(actor, channel_id=str(channel.id))
            if channel.id != interaction.channel_id:
                elsewhere = channel.mention
        chosen = CHANNEL_MODES.get(mode.value, "mention")
        await respond(interaction, set_mode(actor, chosen, elsewhere), defer_after)

    @group.command(name=menu_name("reset-user"), description=menu_text(said, "slash_reset_user"))
    @app_commands.rename(user=menu_name("user"))
    @app_commands.describe(user=menu_text(said, "slash_reset_user_member"))
    async def reset_user(interaction: discord.Interaction[Any], user: discord.User) -> None:
        actor = actor_for(interaction, settings)
        await respond(interaction, commands.reset_user(worker, actor, str(user.id)), defer_after)

    @group.command(name=menu_name("reload"), description=menu_text(said, "slash_reload"))
    @app_commands.rename(version=menu_name("version"))
    @app_commands.describe(version=menu_text(said, "slash_reload_version"))
    async def reload(interaction: discord.Interaction[Any], version: str = "") -> None:
        actor = actor_for(interaction, settings)
        await respond(interaction, commands.reload(worker, actor, version), defer_after)

    simple = _simple_commands(group, worker, settings, defer_after, said)
    simple("reset-channel", "slash_reset_channel", commands.reset_channel)
    simple("rollback", "slash_rollback", commands.rollback)

    return group


def add_commands(
    tree: app_commands.CommandTree[Any],
    worker: Worker,
    settings: DiscordSettings,
    defer_after: float = DEFER_AFTER_SECONDS,
    modes: ChannelModeCache | None = None,
    dm_roles: RoleLookup | None = None,
    command_name: str = DEFAULT_COMMAND,
    silent: SilentChannels | None = None,
) -> None:
    """Built when the client starts, so the menu names the character `atri serve`
    configured (`bot.lines.use_card`), in the language she is served in; the groups are
    `/<command_name>` and `/<command_name>-admin` (`[bot] command_name`)."""
    said = lines()
    tree.error(answer_command_error)
    tree.add_command(
        member_commands(worker, settings, defer_after, said, dm_roles, command_name, silent)
    )
    tree.add_command(admin_commands(worker, settings, defer_after, said, modes, command_name))
    # Guild-scoped commands are looked up per guild when their interactions arrive.
    for guild_id in settings.guild_ids:
        tree.copy_global_to(guild=discord.Object(guild_id))


async def tree_digest(tree: app_commands.CommandTree[Any], targets: list[int | None]) -> str:
    """What a sync would send, localisations included (`to_dict` leaves them out: an
    upgrade that only localised the menu would never have reached Discord)."""
    translator = tree.translator
    payload = {
        "targets": targets,
        "commands": [
            await command.get_translated_payload(tree, translator)
            if translator is not None
            else command.to_dict(tree)
            for command in tree.get_commands()
        ],
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
    write_text_atomic(path, json.dumps(state))


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
    if tree.translator is None:
        # A coroutine, so not set where the tree is built (the client's __init__).
        await tree.set_translator(MenuTranslator())
    digest = await tree_digest(tree, targets)
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

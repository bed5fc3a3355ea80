"""The platform-neutral command layer: reset, forget, memory, status, reload, rollback,
channel modes, with permissions.

Each platform decides who is an admin (Discord: Manage Server, `admin_ids` or
`admin_roles`; QQ: superusers, group owner or admins) and who of them is the bot's
owner (`admin_ids`, superusers), and calls these with an `Actor`. Admin checks are made
here again, whatever the platform already hid, and refusals are logged. The admin of one
server or group resets a member only there: a conversation the member has everywhere
(`[memory] scope = "user"`) is the owner's to reset, or the member's own.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from bot.limits import OneReplyAtATime
from bot.lines import (
    channel_reset_command,
    forget_confirm_command,
    lines,
    mode_on_command,
    spoken_language,
)
from bot.relay import WorkerUnreachable
from model.protocol import (
    PERSONAL_SCOPE,
    SHARED_SCOPE,
    ChannelMode,
    ChannelSetting,
    HistoryEntry,
    MemoryUnavailable,
    ReloadResult,
    ScopeRef,
    Worker,
    first_visible_name,
)

log = logging.getLogger(__name__)

# `/atri memory` fits one message on every platform (Discord's limit is 2,000 characters).
MEMORY_SUMMARY_CHARS = 900
MEMORY_TURNS = 6
MEMORY_TURN_CHARS = 120
# Leads a summary shown without its oldest lines.
SUMMARY_CUT_MARK = "…\n"
# A reload's answers worded from its version names and engine alone: no folder in them,
# so `/atri status` shows them to any admin. The others (a load's reason or folder) name
# folders on the worker's machine: its owners alone see them, as a reload is theirs.
RELOADS_NAMING_NO_FOLDER = frozenset(
    {"switched", "rolled_back", "already_serving", "nothing_older", "no_adapters"}
)
# Places besides the asker's where she cannot post that `/atri status` names; the rest
# are counted.
CANNOT_POST_NAMED = 3
# How each platform is named in `/atri forget`'s answers: a purge of a person's key
# reaches what one platform keeps of them, not another's.
PLATFORM_NAMES = {"qq": "QQ", "discord": "Discord"}

# A command's words in Chinese (Simplified and Traditional) or Japanese, as the usage
# texts name them: the English word each stands for. QQ reads its commands through
# these, and the console the actions it has too (`/atri 状態` is its `/status`).
ACTION_WORDS = {
    "重置": "reset",
    "リセット": "reset",
    "帮助": "help",
    "幫助": "help",
    "ヘルプ": "help",
    "状态": "status",
    "狀態": "status",
    "状態": "status",
    "记忆": "memory",
    "記憶": "memory",
    "忘记": "forget",
    "忘記": "forget",
    "忘れて": "forget",
    "モード": "mode",
}
# After `reset`: the whole group's (channel's) conversation.
GROUP_WORDS = frozenset({"group", "群", "本群", "グループ"})
# After `forget`: delete for good (`forget_confirm_command` shows the first).
FORGET_CONFIRM_WORDS = frozenset({"confirm", "确认", "確認"})
# After `mode`.
MODE_WORDS: dict[str, ChannelMode] = {
    "off": "off",
    "关": "off",
    "オフ": "off",
    "on": "mention",
    "开": "mention",
    "オン": "mention",
    "all": "all",
    "全部": "all",
    "すべて": "all",
    "全て": "all",
}


def folded(text: str) -> str:
    """`text` as command words and her names are compared: in any width (NFKC: an input
    method's full-width ＲＥＳＥＴ or ＡＴＲＩ, half-width ｱﾄﾘ) and case."""
    return unicodedata.normalize("NFKC", text).casefold()


def action_of(word: str) -> str:
    """The action ("reset", …) a command's first word names, in any language known; an
    unknown word as it is `folded`."""
    return ACTION_WORDS.get(folded(word), folded(word))


def mode_of(word: str) -> ChannelMode | None:
    """The channel mode `word` names after `mode`; None: none."""
    return MODE_WORDS.get(folded(word))


def names_the_group(word: str) -> bool:
    return folded(word) in GROUP_WORDS


def confirms_forget(word: str) -> bool:
    return folded(word) in FORGET_CONFIRM_WORDS


# Why she cannot post somewhere, each worded by a `bot.lines` line (`blocked_<reason>`):
# a Discord moderator's timeout, Send Messages (in Threads) denied, a thread locked; on
# QQ a ban (禁言) on her account, the whole group's mute (全员禁言), or QQ refusing her
# last sends there.
CannotPostReason = Literal[
    "timed_out",
    "no_send",
    "no_send_in_threads",
    "thread_locked",
    "banned",
    "muted_whole",
    "refused",
]


@dataclass(frozen=True)
class CannotPost:
    """A place where she cannot post now and why. `place` as the platform names it (a
    Discord channel's `<#id>`, a QQ group); `ends`: when that ends, as the platform writes
    a time (Discord's `<t:…>`, the time left of a QQ ban), "" when not timed."""

    place: str
    reason: CannotPostReason
    ends: str = ""


@dataclass(frozen=True)
class Actor:
    platform: str
    user_id: str
    is_admin: bool
    channel_id: str = ""
    guild_id: str = ""
    # The bot's owner (Discord `admin_ids`, QQ superusers): an admin in every server and
    # group, and of what a member has across them. An admin by a server's or group's
    # own grant (Manage Server, `admin_roles`, group owner or admin) is not.
    is_owner: bool = False

    def scope(self, user_id: str | None = None, here_only: bool = False) -> ScopeRef:
        """The conversation of `user_id` (default: the actor's own) where the actor is;
        `user_id=""` names the channel's shared one."""
        return ScopeRef(
            platform=self.platform,
            user_id=self.user_id if user_id is None else user_id,
            channel_id=self.channel_id,
            guild_id=self.guild_id,
            here_only=here_only,
        )


@dataclass(frozen=True)
class CommandResult:
    text: str
    ok: bool = True
    refused: bool = False
    # Holds what she remembers of someone (`remembered`): for their eyes only.
    personal: bool = False
    # It changed something (archived or deleted messages, set a mode, switched the
    # version): its answer is the only word that it did.
    changed: bool = False


def _refuse(actor: Actor, action: str, line: str = "") -> CommandResult:
    log.warning(
        "refused %s by %s user %s in channel %s",
        action,
        actor.platform,
        actor.user_id,
        actor.channel_id,
    )
    return CommandResult(line or lines().refused, ok=False, refused=True)


def _memory_unavailable(actor: Actor, action: str) -> CommandResult:
    """The worker's memory database failed (it logged why, once a while): a short line
    for the asker, no traceback."""
    log.info("%s %s by user %s: memory unavailable", actor.platform, action, actor.user_id)
    return CommandResult(lines().memory_unavailable, ok=False)


async def reset_self(worker: Worker, actor: Actor) -> CommandResult:
    """Anyone may forget their own conversation: archived, not deleted (`forget_self`)."""
    try:
        count = await worker.reset(actor.scope())
    except MemoryUnavailable:
        return _memory_unavailable(actor, "reset")
    if count == SHARED_SCOPE and not actor.channel_id:
        # In private, with no conversation of their own: their words are in conversations
        # channels share, which only an admin resets there.
        place = lines().shared_place(actor.platform)
        return CommandResult(lines().shared_only_reset.format(place=place), ok=False)
    if count == SHARED_SCOPE:
        if not actor.is_admin:
            return CommandResult(lines().shared_reset_refused, ok=False, refused=True)
        # Not the whole channel's by the member's own command: the reset keyword, said
        # alone to show someone how it works, would wipe the group's conversation.
        how = channel_reset_command(actor.platform)
        return CommandResult(lines().shared_reset_by_admin.format(how=how), ok=False)
    text = lines().counted(lines().reset_done, count=count)
    return CommandResult(text, changed=count > 0)


async def forget_self(worker: Worker, actor: Actor, confirmed: bool = False) -> CommandResult:
    """Anyone may have what is kept of them deleted for good: a purge of their key on the
    platform (`ScopeRef` without a channel), which takes their messages in every
    conversation, her replies to them, the summaries holding them and their room lines.
    Unconfirmed, it only says so and how to confirm (`forget_confirm_command`)."""
    said = lines()
    place = PLATFORM_NAMES.get(actor.platform, actor.platform)
    if not confirmed:
        how = forget_confirm_command(actor.platform)
        return CommandResult(said.forget_ask.format(place=place, how=how))
    person = ScopeRef(platform=actor.platform, user_id=actor.user_id)
    try:
        count = await worker.purge(person)
    except MemoryUnavailable:
        return _memory_unavailable(actor, "forget")
    log.info(
        "%s user %s purged what is kept of them (%d rows)", actor.platform, actor.user_id, count
    )
    return CommandResult(
        said.counted(said.forget_done, place=place, count=count), changed=count > 0
    )


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_summary(text: str, limit: int) -> str:
    """A summary within `limit` characters as her prompt keeps one: line by line, its
    last whole lines, which hold the newest facts ("…" for those left out). A last line
    too long alone is cut as a turn is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len("\n".join(lines)) <= limit:
        return "\n".join(lines)
    kept: list[str] = []
    used = len(SUMMARY_CUT_MARK)
    for line in reversed(lines):
        used += len(line) + 1
        if used > limit:
            break
        kept.insert(0, line)
    if not kept:
        mark = SUMMARY_CUT_MARK if len(lines) > 1 else ""
        return mark + _cut(lines[-1], limit - len(mark))
    return SUMMARY_CUT_MARK + "\n".join(kept)


def _who(turn: HistoryEntry, actor: Actor, you: str, her: str) -> str:
    """ "you" for the asker's own turns; in a conversation a channel shares, another
    member's turn by their name (it was shown as the asker's), without invisible controls
    (one stored before they were dropped on arrival), else by their id."""
    if turn.role != "user":
        return turn.display_name or her
    if not turn.user_id or turn.user_id == actor.user_id:
        return you
    return " ".join(first_visible_name(turn.display_name, fallback=turn.user_id).split())


async def remembered(worker: Worker, actor: Actor) -> CommandResult:
    """What she remembers about the asking member: the summary and the recent turns."""
    try:
        found = await worker.remembered(actor.scope())
    except MemoryUnavailable:
        return _memory_unavailable(actor, "memory")
    said = lines()
    if found.shared_conversations:  # nothing of their own, their words in shared ones
        place = said.shared_place(actor.platform)
        return CommandResult(said.shared_only_remembered.format(place=place))
    if not found.summary and not found.turns:
        return CommandResult(said.nothing_remembered)
    shown = [
        said.remembered,
        _cut_summary(found.summary, MEMORY_SUMMARY_CHARS) or said.no_summary_yet,
    ]
    if found.turns:
        shown += ["", said.recent_turns]
        colon = "：" if spoken_language() in ("zh", "ja") else ": "  # "You：Hello" in English
        for turn in found.turns[-MEMORY_TURNS:]:
            who = _who(turn, actor, said.you, said.name)
            shown.append(f"{who}{colon}{_cut(turn.content, MEMORY_TURN_CHARS)}")
    return CommandResult("\n".join(shown), personal=True)


async def reset_user(worker: Worker, actor: Actor, target_user_id: str) -> CommandResult:
    """An admin forgets a member's conversation: the owner's reset is the member's own
    (everywhere under `[memory] scope = "user"`); a server's or group's admin reaches
    only what is kept for this channel."""
    if not actor.is_admin:
        return _refuse(actor, f"reset of user {target_user_id}")
    try:
        count = await worker.reset(actor.scope(target_user_id, here_only=not actor.is_owner))
    except MemoryUnavailable:
        return _memory_unavailable(actor, f"reset of user {target_user_id}")
    if count == SHARED_SCOPE:  # `[memory] scope = "channel"`: nothing is theirs alone
        return CommandResult(lines().shared_user_reset, ok=False)
    if count == PERSONAL_SCOPE:  # `[memory] scope = "user"`: theirs in every place
        log.info(
            "%s admin %s reset only the room lines of user %s in channel %s: their "
            "conversation is theirs everywhere, for the bot's owner to reset",
            actor.platform,
            actor.user_id,
            target_user_id,
            actor.channel_id,
        )
        return CommandResult(lines().personal_reset(actor.platform), ok=False)
    log.info("%s admin %s reset user %s", actor.platform, actor.user_id, target_user_id)
    text = lines().counted(lines().user_reset_done, count=max(count, 0))
    return CommandResult(text, changed=count > 0)


async def reset_channel(worker: Worker, actor: Actor) -> CommandResult:
    if not actor.channel_id:  # a DM: there is no channel to reset
        return CommandResult(lines().not_in_a_channel(actor.platform), ok=False)
    if not actor.is_admin:
        return _refuse(actor, f"reset of channel {actor.channel_id}")
    try:
        count = await worker.reset(actor.scope(user_id=""))
    except MemoryUnavailable:
        return _memory_unavailable(actor, f"reset of channel {actor.channel_id}")
    log.info("%s admin %s reset channel %s", actor.platform, actor.user_id, actor.channel_id)
    text = lines().counted(lines().channel_reset_done, count=max(count, 0))
    return CommandResult(text, changed=count > 0)


async def status(
    worker: Worker,
    actor: Actor,
    cannot_post_here: CannotPost | None = None,
    cannot_post_elsewhere: Sequence[CannotPost] = (),
    cannot_post_managed: Sequence[CannotPost] = (),
) -> CommandResult:
    """Version, queue and uptime for anyone; admins see the engine too, and the bot's
    owners what names the worker's folders besides, and in a private chat the worker's
    counters.

    Why she is silent: where she cannot post the place asked in (`cannot_post_here`,
    said to anyone there), and to admins the other places the platform knows of
    (`cannot_post_elsewhere`, the first CANNOT_POST_NAMED named); which of those an
    admin may learn of is the platform's to choose. `cannot_post_managed`: those the
    asker manages, asked where they are no admin (a QQ group's admin in a private chat),
    said as such, without the admin's other lines."""
    s = await worker.status()
    minutes = int(s.uptime_seconds // 60)
    said = lines()
    shown = [
        said.status_version.format(version=s.adapter_version or said.base_model),
        said.status_queue.format(depth=s.queue_depth),
        said.status_uptime.format(hours=minutes // 60, minutes=minutes % 60),
    ]
    # Why she is silent, before the engine's details: what an admin asking wants to know.
    if await _turned_off_here(worker, actor):
        shown.append(said.turned_off_here.format(how=mode_on_command(actor.platform)))
    if cannot_post_here is not None:
        shown.append(said.cannot_post_here.format(reason=_blocked(cannot_post_here)))
    if actor.is_admin and cannot_post_elsewhere:
        shown += _places(said.cannot_post_elsewhere, cannot_post_elsewhere)
    elif cannot_post_managed:
        shown += _places(said.cannot_post_managed, cannot_post_managed)
    if actor.is_admin:
        base = s.base_model if actor.is_owner else s.base_model_name()
        shown.append(said.status_engine.format(engine=s.engine, base=base))
        if s.last_reload and (
            actor.is_owner or s.last_reload.get("code") in RELOADS_NAMING_NO_FOLDER
        ):
            shown.append(said.status_reload.format(message=_last_reload(s.last_reload)))
    # The worker's raw counters (`generate_calls: 2`, English names, also in /metrics)
    # for the bot's owner in a private chat only: in a group or channel they ran past
    # one QQ message, in words its members do not read.
    if actor.is_owner and not actor.channel_id:
        shown += [f"{key}: {value}" for key, value in sorted(s.details.items())]
    return CommandResult("\n".join(shown))


async def _turned_off_here(worker: Worker, actor: Actor) -> bool:
    """Whether an admin turned her off in the channel or group asked in: members there get
    silence, and only this says why. Not known (modes unreadable): not said."""
    if not actor.channel_id:
        return False
    try:
        modes = await worker.channel_modes(actor.platform)
    except MemoryUnavailable:
        return False  # the worker logged its database failing, once a while
    except WorkerUnreachable as exc:
        # The admin asking why she is silent is not told: the log says why.
        log.warning("%s: channel modes not read for status: %s", actor.platform, exc)
        return False
    return modes.get(actor.channel_id) == "off"


def _places(heading: str, places: Sequence[CannotPost]) -> list[str]:
    """`heading`, then one "place — why" a line, the first CANNOT_POST_NAMED, the rest
    counted."""
    shown = [
        heading,
        *(f"{place.place} — {_blocked(place)}" for place in places[:CANNOT_POST_NAMED]),
    ]
    more = len(places) - CANNOT_POST_NAMED
    if more > 0:
        shown.append(lines().cannot_post_more.format(count=more))
    return shown


def _blocked(place: CannotPost) -> str:
    """Why she cannot post at `place`, in the lines' words."""
    template: str = getattr(lines(), f"blocked_{place.reason}")
    return template.format(ends=place.ends)


def _last_reload(record: dict[str, Any]) -> str:
    """The worker's record of its last reload, worded as the reload's answer was."""
    try:
        return lines().reload_said(ReloadResult.model_validate({"message": "", **record}))
    except ValidationError:
        return str(record.get("message", ""))


async def reload(worker: Worker, actor: Actor, version: str = "") -> CommandResult:
    """The bot's owners only: the adapter version is every server's and group's, not
    one admin's to change for the others. `version` names one (as `/atri status` shows
    them: going forward again after a rollback); none, the newest the job would take."""
    if not actor.is_owner:
        return _refuse(actor, f"reload {version}".rstrip(), lines().owners_only_in(actor.platform))
    result = await worker.reload(version.strip())
    return CommandResult(lines().reload_said(result), ok=result.ok, changed=_switched(result))


async def rollback(worker: Worker, actor: Actor) -> CommandResult:
    """The bot's owners only, as `reload`."""
    if not actor.is_owner:
        return _refuse(actor, "rollback", lines().owners_only_in(actor.platform))
    result = await worker.rollback()
    return CommandResult(lines().reload_said(result), ok=result.ok, changed=_switched(result))


def _switched(result: ReloadResult) -> bool:
    """A reload or rollback that put another version live."""
    return result.code in ("switched", "rolled_back")


# One mode change at a time in each channel (a lock only while one is under way): ten
# `/atri mode on` sent at once each read the mode before the first was set, and each
# was a change.
_mode_changes = OneReplyAtATime()


async def set_channel_mode(worker: Worker, actor: Actor, mode: ChannelMode) -> CommandResult:
    """Turn ATRI off, on (answers when addressed) or to every message in this channel."""
    if not actor.channel_id:
        return CommandResult(lines().not_in_a_channel(actor.platform), ok=False)
    if not actor.is_admin:
        return _refuse(actor, f"channel mode {mode} in {actor.channel_id}")
    try:
        async with _mode_changes.turn((actor.platform, actor.channel_id)):
            before = await _stored_mode(worker, actor.platform, actor.channel_id)
            await worker.set_channel_mode(
                ChannelSetting(platform=actor.platform, channel_id=actor.channel_id, mode=mode)
            )
    except MemoryUnavailable:
        return _memory_unavailable(actor, f"channel mode {mode} in {actor.channel_id}")
    log.info(
        "%s admin %s set channel %s to %s", actor.platform, actor.user_id, actor.channel_id, mode
    )
    # Only a new mode is a change: a repeat's answer meets the reply cap (QQ's `changed`),
    # else ten `/atri mode on` were ten answers past it.
    return CommandResult(lines().mode_done(mode, actor.platform), changed=before != mode)


async def _stored_mode(worker: Worker, platform: str, channel_id: str) -> ChannelMode | None:
    """The mode the worker holds for the channel; None where none was set, or where it
    could not be read (the change is then taken as one: the read must not stop it)."""
    try:
        return (await worker.channel_modes(platform)).get(channel_id)
    except (MemoryUnavailable, WorkerUnreachable) as exc:
        # The change meets the same failure, and its answer says so.
        log.debug("%s: channel %s's mode not read before a change: %s", platform, channel_id, exc)
        return None

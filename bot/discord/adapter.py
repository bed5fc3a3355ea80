"""ATRI on Discord: the real discord.py client in front of any `Worker`.

A message goes through four small steps, each testable alone:
`should_answer` (is it for ATRI, and may this person talk to her here?) → `to_request`
(Discord ids and text → `ChatRequest`) → `worker.chat` (typing shown meanwhile) →
`send_reply` (mentions neutralised, split under 2000 characters, as a reply that pings
nobody). Slash commands are in `bot/discord/commands.py`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

from atri.config import ConfigError, DiscordSettings, Secrets, Settings, WorkerSettings
from bot.channel_modes import ChannelModeCache
from bot.discord.cannot_post import SilentChannels, why_not
from bot.discord.commands import DEFER_AFTER_SECONDS, add_commands, sync_commands
from bot.discord.lists import RoleLookup, RolesUnknown, channel_ids, lists_permit, parent_id
from bot.discord.text import NameLookup, markup_as_text, outgoing_parts
from bot.discord.threads import ForgottenThreads
from bot.limits import (
    MAX_INPUT_CHARS,
    QUIET_STATUSES,
    AnswersUnderWay,
    Counted,
    HeldTurn,
    OneReplyAtATime,
    QuietNotices,
    ReplyCap,
    Sweeps,
    input_kept,
)
from bot.lines import DEFAULT_COMMAND, error_line_of, lines
from bot.quoting import QuoteNotes, author_label, poll_note, quote_notes
from bot.recalls import Recalls
from bot.relay import WorkerUnreachable, telling_worker
from model.character.persona import Persona, canned_lines
from model.protocol import (
    MAX_CHANNEL_MESSAGES,
    ChannelMode,
    ChannelRef,
    ChatRequest,
    MessageRef,
    ReplyCut,
    Worker,
    clean_str,
    first_visible_name,
    visible_name,
    visible_text,
)

log = logging.getLogger(__name__)
# Its own logger, shown without -v (`atri/cli.py` TOLD_LOGGERS): the one line that says
# Discord connected, without the adapter's other INFO lines.
ready_log = logging.getLogger(f"{__name__}.ready")

PLATFORM = "discord"
# Discord shows "is typing" for about 10 s after each call; refresh before it lapses.
TYPING_REFRESH_SECONDS = 8.0
# Joins, pins, boosts and other system messages are not conversation.
CHAT_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
# The worker that stored a reply, and which exchange it is.
StoredReply = tuple[Worker, ReplyCut]
# Discord's error code for a post quoting a message in a channel whose history she may
# not read (an overwrite took Read Message History away): a plain post still goes out.
CANNOT_REPLY_WITHOUT_HISTORY = 160002
# What Discord answers a post in a thread a moderator closed meanwhile: locked (160005),
# or archived and locked at once (50083, "Close and lock" in a forum); also as a 400.
THREAD_CLOSED_CODES = frozenset({160005, 50083})
# Why she cannot post (`why_not`), as the log says it; a timeout names its end.
CANNOT_POST_SAID = {
    "no_send": "missing Send Messages",
    "no_send_in_threads": "missing Send Messages in Threads",
    "thread_locked": "the thread is locked",
}
# Put on a message instead of a second "busy" notice in the same minute; once a minute
# per person too (`Limits.reactions`).
QUIET_REACTION = "⏳"
# A message updated to mention her is answered only when Discord says it was edited this
# recently: a pin, a link's preview, or an update of one edited long ago (she forgot it
# meanwhile: a restart, the message cache) is no new question.
EDIT_ANSWERED_WITHIN_SECONDS = 300.0
# How often the log says again, per channel, that she cannot post there (timed out, or
# no Send Messages): each message for her there would otherwise log a line.
CANNOT_POST_TOLD_EVERY_SECONDS = 600.0
# A part Discord answered with a 5xx (discord.py does not retry a 503, and gives up on
# a 502 after ~25 s) or whose connection dropped is tried again after these waits, with
# the same nonce: a reply that took a CPU minute is not thrown away after one outage.
POST_RETRY_DELAYS = (2.0, 5.0, 10.0, 20.0)
# No try starts later than this after a part's first: the member waits no longer than
# the generation took, and Discord's nonce check (`enforce_nonce`, a few minutes) still
# returns the message an earlier try created instead of a second one.
POST_RETRY_WITHIN_SECONDS = 60.0
# A 429 from Discord's edge (Cloudflare: no `Via` header, an HTML page) is a ban of this
# machine's IP for about an hour, which discord.py does not wait out: said once a while.
EDGE_BAN_TOLD_EVERY_SECONDS = 300.0


class DiscordLoginError(ConfigError):
    """Discord refused to let ATRI in; str() says what to change."""


class DiscordUnreachable(ConnectionError):
    """No connection to Discord; `atri serve` tries again later."""


class ChannelUnknown(Exception):
    """Discord did not say which channel a server message is in; str() is the log's line."""


class ClientClosed(Exception):
    """The client closed (a fatal gateway close, `atri serve` stopping) before a part of
    her reply could go out."""


def intents() -> discord.Intents:
    """Only what the adapter reads. Message Content is privileged: see the README."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    chosen.message_content = True
    return chosen


def _role_ids(author: discord.User | discord.Member) -> set[int]:
    return {role.id for role in getattr(author, "roles", [])}


def is_permitted(
    message: discord.Message, cfg: DiscordSettings, roles: set[int] | None = None
) -> bool:
    """The allow and block lists of `[discord]` (blocks win). In a DM the author has no
    roles: the caller passes those they hold in the servers ATRI shares with them."""
    roles = _role_ids(message.author) if roles is None else roles
    channels = channel_ids(message.channel)
    return lists_permit(cfg, message.author.id, roles, channels, message.guild is not None)


def is_mentioned(message: discord.Message, me_id: int) -> bool:
    """Her user mention, or her own bot role (what the @ picker offers as "ATRI" too)."""
    # Not `ClientUser.mentioned_in`: that is also true for @everyone.
    if any(user.id == me_id for user in message.mentions):
        return True
    own_role = message.guild.self_role if message.guild else None
    return own_role is not None and any(role.id == own_role.id for role in message.role_mentions)


def is_reply_to_me(message: discord.Message, me_id: int) -> bool:
    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == me_id


def is_addressed(message: discord.Message, me_id: int, cfg: DiscordSettings) -> bool:
    """Spoken to directly: a DM (when allowed), a mention, or a reply to ATRI."""
    if message.guild is None:
        return cfg.reply_in_dms
    return is_mentioned(message, me_id) or is_reply_to_me(message, me_id)


def _from_a_permitted_person(
    message: discord.Message, me_id: int, cfg: DiscordSettings, roles: set[int] | None
) -> bool:
    """A person's chat message (not a bot's, not her own) that the lists let through."""
    author = message.author
    if author.bot or author.id == me_id or message.webhook_id is not None:
        return False
    if author.id in cfg.bot_ids:
        return False
    return message.type in CHAT_MESSAGE_TYPES and is_permitted(message, cfg, roles)


def should_answer(
    message: discord.Message,
    me_id: int,
    cfg: DiscordSettings,
    roles: set[int] | None = None,
    mode: ChannelMode | None = None,
) -> bool:
    """`mode` is what an admin set for this channel or its parent (`/atri-admin channel`),
    None if nothing: only then does `[discord] channels` say she answers every message."""
    if not _from_a_permitted_person(message, me_id, cfg, roles):
        return False
    if message.guild is not None and mode == "off":
        return False
    if is_addressed(message, me_id, cfg):
        return True
    if message.guild is None:
        return False
    if mode is None:
        return bool(channel_ids(message.channel) & set(cfg.channels))
    return mode == "all"


def should_hear(
    message: discord.Message, me_id: int, cfg: DiscordSettings, mode: ChannelMode | None = None
) -> bool:
    """Said in a server channel, not to her (ask `should_answer` first): sent to the worker
    as room context when `[discord] room_context` is on and the channel is not off. The
    worker keeps it, and may speak up (`[room] speak_up_channels`)."""
    return (
        cfg.room_context
        and message.guild is not None
        and mode != "off"
        and _from_a_permitted_person(message, me_id, cfg, None)
    )


def shown_name(user: discord.User | discord.Member) -> str:
    """The name a member's client shows for `user`, as discord.py's `display_name` reads
    it (the server nickname, else the global name, else the username), passing over one
    that shows nothing once its invisible controls are dropped (`first_visible_name`):
    a nickname of zero-width spaces leaves the global name. `clean_str`ed, as every
    name from outside."""
    nick = getattr(user, "nick", None)  # a member's; a user has none
    return first_visible_name(
        *(clean_str(name or "") for name in (nick, user.global_name, user.name))
    )


def names_for(message: discord.Message) -> NameLookup:
    """Display names for the ids a message's mentions can refer to: its author and the
    members it mentions, the server's members, roles and channels (threads too) cached."""
    users = {user.id: shown_name(user) for user in message.mentions}
    users[message.author.id] = shown_name(message.author)
    guild = message.guild

    def lookup(kind: str, ident: int) -> str | None:
        if kind == "role":
            role = guild.get_role(ident) if guild else None
            return role.name if role else None
        if kind == "channel":
            channel = guild.get_channel_or_thread(ident) if guild else None
            return channel.name if channel else None
        if ident in users:
            return users[ident]
        member = guild.get_member(ident) if guild else None
        return shown_name(member) if member else None

    return lookup


def message_texts(message: discord.Message, me_id: int) -> tuple[str, str]:
    """What the person said, as plain text (`said_in`), after a note on the message it
    replies to (`quoted_in`): as stored, naming whose message it was, and as the model
    reads it for this reply, with its words ("" when it quotes nothing). The note comes
    on top of the words' `MAX_INPUT_CHARS`, as on QQ: both texts keep the same words."""
    return quoted_in(message, me_id).texts(said_in(message, me_id), " ")


def said_in(message: discord.Message, me_id: int) -> str:
    """The message's own words: ATRI's own mention dropped, other markup as the person
    sees it (`markup_as_text`), at most `MAX_INPUT_CHARS` of them (`is_cut`); then a note
    for attachments and stickers the model cannot see (a forwarded message's too) and for
    a poll, in the card's language (a Chinese note in an English chat pulls her replies
    into Chinese). The notes come on top of the words' limit: a file's name is never
    what is cut, nor is a message said cut for its notes."""
    words = input_kept(clean_str(_words_in(message, me_id)))
    return visible_text(clean_str(" ".join(part for part in [words, *_notes(message)] if part)))


def is_cut(words: str) -> bool:
    """Words (`_words_in`) longer than `MAX_INPUT_CHARS`: she reads only their start."""
    return len(clean_str(words)) > MAX_INPUT_CHARS


def _words_in(message: discord.Message, me_id: int) -> str:
    """The message's words (a forwarded one's too) as a member sees them, without notes."""
    text = re.sub(rf"<@!?{me_id}>", "", message.content)
    own_role = message.guild.self_role if message.guild else None
    if own_role is not None:
        text = text.replace(f"<@&{own_role.id}>", "")
    # A forwarded message carries its text in snapshots, not in `content`.
    forwarded = [snapshot.content for snapshot in message.message_snapshots]
    return visible_text(markup_as_text(" ".join([text, *forwarded]), names_for(message)))


def _notes(message: discord.Message) -> list[str]:
    """Notes for what the model cannot see, the forwarded message's too, and a poll."""
    said = lines()
    notes = []
    held_in: list[discord.Message | discord.MessageSnapshot] = [message, *message.message_snapshots]
    for held in held_in:
        notes += [
            said.sticker_note.format(sticker=first_visible_name(sticker.name, fallback="?"))
            for sticker in held.stickers
        ]
        notes += [_attachment_note(a) for a in held.attachments]
    if message.poll is not None:
        notes.append(_poll_note(message.poll, names_for(message)))
    return notes


def _media_kind(attachment: discord.Attachment) -> str | None:
    """What Discord typed the attachment as: a picture, a voice message or a video; None
    for any other file (an mp3 sent as a file too: its name may say what it is, as a QQ
    file's does)."""
    if attachment.is_voice_message():
        return "voice"
    kind = (attachment.content_type or "").partition("/")[0]
    return {"image": "picture", "video": "video"}.get(kind)


def _attachment_note(attachment: discord.Attachment) -> str:
    """A picture, voice message or video is only said to have come, as on QQ: its file
    name ("image.png", "voice-message.ogg") tells nothing, in English. Other files by name."""
    said = lines()
    kind = _media_kind(attachment)
    if kind == "picture":
        return said.picture_note
    if kind == "voice":
        return said.voice_note
    if kind == "video":
        return said.video_note
    return said.attachment_note.format(
        filename=first_visible_name(attachment.filename, fallback="?")
    )


def media_only_line(message: discord.Message, words: str) -> str | None:
    """Her line for a message of pictures, voice messages or videos alone (no `words`
    (`_words_in`), no sticker, file or poll), a forwarded one's included: the model could
    only pretend to have seen or heard them, so she says she cannot, as on QQ. None for
    any other message."""
    held: list[discord.Message | discord.MessageSnapshot] = [message, *message.message_snapshots]
    if message.poll is not None or any(h.stickers for h in held) or words:
        return None
    kinds = {_media_kind(a) for h in held for a in h.attachments}
    if not kinds or None in kinds:
        return None
    if kinds == {"voice"}:
        return lines().voice_only
    if kinds == {"video"}:
        return lines().video_only
    return lines().media_only


def _poll_note(poll: discord.Poll, names: NameLookup) -> str:
    """A poll's question and answers as a member sees them (mentions as `@name`). An
    answer may be an emoji alone: a custom one reads as `:name:`, not `<:name:id>`."""
    try:
        question = poll.question or ""
    except AttributeError:  # discord.py reads a question without text as None.text
        question = ""
    answers = [answer.text or str(answer.emoji or "") for answer in poll.answers]
    return poll_note(markup_as_text(question, names), [markup_as_text(a, names) for a in answers])


def quoted_in(message: discord.Message, me_id: int) -> QuoteNotes:
    """The notes on the message a reply quotes (none when Discord did not send it: deleted,
    or not a reply). Her own message only when it is known to have answered someone
    else: by default each member has their own memory, so her answer to another is not
    in this person's conversation. Any other message of hers (one answering them, or
    one whose answered message is no longer cached, as after a restart) most likely is,
    and quoting it would show the model its own words twice."""
    quoted = message.reference.resolved if message.reference else None
    if not isinstance(quoted, discord.Message):
        return QuoteNotes()
    if quoted.author.id == me_id and not _answered_someone_else(quoted, message.author.id):
        return QuoteNotes()
    text = said_in(quoted, me_id)
    if not text:
        return QuoteNotes()
    if quoted.author.id == me_id:
        return quote_notes(None, text)
    # A member nicknamed after her (or the lead) is named with their id, as in the room.
    return quote_notes(author_label(shown_name(quoted.author), str(quoted.author.id)), text)


def _answered_someone_else(reply: discord.Message, person_id: int) -> bool:
    """Whether `reply` (hers) quotes a message, still cached, that `person_id` did not write."""
    answered = reply.reference.cached_message if reply.reference else None
    return answered is not None and answered.author.id != person_id


# The channels a server message can be in (what `with_known_channel` takes of a fetch).
MESSAGE_CHANNELS = (discord.TextChannel, discord.Thread, discord.VoiceChannel, discord.StageChannel)


async def with_known_channel(message: discord.Message, threads: ForgottenThreads) -> None:
    """A server message in a channel discord.py does not hold (a thread archived since,
    which it forgets, or a private thread she was only now added to) gets its channel
    from Discord, once per thread (`threads` keeps it): otherwise the thread's parent is
    unknown, and with it the lists and the mode that name the parent (a blocked channel's
    thread was answered) and her permissions there. Raises ChannelUnknown when Discord
    does not say."""
    if message.guild is None or not isinstance(message.channel, discord.PartialMessageable):
        return
    try:
        channel = await threads.channel(message.guild, message.channel.id)
    except (discord.HTTPException, discord.InvalidData, *UNCONFIRMED_POST) as exc:
        raise ChannelUnknown(
            f"Discord did not say which channel message {message.id} is in (channel "
            f"{message.channel.id}: {str(exc) or type(exc).__name__}); it is left unanswered."
        ) from None
    if isinstance(channel, MESSAGE_CHANNELS):
        message.channel = channel


def to_request(message: discord.Message, me_id: int, cfg: DiscordSettings) -> ChatRequest:
    """Memory is keyed by ids; a DM has no channel, so it is the person's own conversation."""
    guild = message.guild
    text, with_quote = message_texts(message, me_id)
    return ChatRequest(
        platform=PLATFORM,
        user_id=str(message.author.id),
        display_name=shown_name(message.author),
        text=text,
        with_quote=with_quote,
        channel_id=str(message.channel.id) if guild else "",
        parent_channel_id=str(parent_id(message.channel) or ""),
        guild_id=str(guild.id) if guild else "",
        addressed=is_addressed(message, me_id, cfg),
        request_id=str(message.id),
        sent_at=message.created_at.timestamp(),
        edited_at=message.edited_at.timestamp() if message.edited_at else 0.0,
    )


@dataclass
class _Typing:
    """Typing shown in one channel: the chats it is shown for, and its renewal."""

    chats: int = 0
    renewal: asyncio.Task[None] | None = None
    # Set once the first request is answered: every chat waits for it, as each waited
    # for its own, so none reaches the worker before an earlier message does.
    first_shown: asyncio.Event = field(default_factory=asyncio.Event)


class TypingShown:
    """One indicator per channel, however many messages there she is answering: a member
    sending twenty at once made twenty typing requests at once, and Discord's rate limit
    on them held back the start of her answers to everyone there. One per client: two
    clients in one process (two bots) each show their own."""

    def __init__(self) -> None:
        self._shown: dict[int, _Typing] = {}

    @asynccontextmanager
    async def shown_in(self, channel: discord.abc.Messageable) -> AsyncIterator[None]:
        """Show "ATRI is typing…" until the block ends; a failure here never stops a reply."""

        async def refresh() -> None:
            while True:
                await asyncio.sleep(TYPING_REFRESH_SECONDS)
                with suppress(discord.HTTPException, *UNCONFIRMED_POST):
                    await channel.typing()

        key = getattr(channel, "id", 0)
        shown = self._shown.get(key)
        first = shown is None
        if shown is None:
            shown = self._shown[key] = _Typing()
        shown.chats += 1
        try:
            if first:
                shown.renewal = asyncio.create_task(refresh())
                try:
                    await channel.typing()
                except (discord.HTTPException, *UNCONFIRMED_POST) as exc:
                    # Cut off too (a dropped connection): not her answer's failure.
                    log.debug("typing indicator refused: %s", str(exc) or type(exc).__name__)
                finally:
                    shown.first_shown.set()
            await shown.first_shown.wait()
            yield
        finally:
            shown.chats -= 1
            if not shown.chats:
                del self._shown[key]
                if shown.renewal is not None:
                    shown.renewal.cancel()


# Parts of her stored replies remembered by id (see PostedReplies).
POSTED_KEPT = 2000


@dataclass
class _Posted:
    stored: StoredReply
    parts: list[str]  # as posted
    gone: set[int] = field(default_factory=set)  # the parts deleted since


class PostedReplies:
    """Her replies as posted, by the id of each part, with the exchange memory holds for
    each: a part a moderator deletes (she was talked into something) leaves her memory
    too, where she would otherwise go on from it. The last `POSTED_KEPT` parts, none
    from before a restart."""

    def __init__(self, kept: int = POSTED_KEPT) -> None:
        self.kept = kept
        self._parts: OrderedDict[int, tuple[_Posted, int]] = OrderedDict()

    def add(self, stored: StoredReply, sent: Sequence[discord.Message], parts: list[str]) -> None:
        posted = _Posted(stored, parts[: len(sent)])
        for index, part in enumerate(sent):
            self._parts[part.id] = (posted, index)
        while len(self._parts) > self.kept:
            self._parts.popitem(last=False)

    def answered_in(self, channel_ids: Collection[str]) -> set[str]:
        """The ids of the messages her replies kept here answered in those channels."""
        return {
            posted.stored[1].request_id
            for posted, _ in self._parts.values()
            if posted.stored[1].channel_id in channel_ids
        }

    def deleted(self, message_id: int) -> StoredReply | None:
        """The worker and what is left of the reply `message_id` was a part of (`sent`:
        the parts not deleted; "" when none is left); None when it is no reply of hers."""
        found = self._parts.pop(message_id, None)
        if found is None:
            return None
        posted, index = found
        posted.gone.add(index)
        left = [part for i, part in enumerate(posted.parts) if i not in posted.gone]
        worker, cut = posted.stored
        # Deleted by someone: with nothing left, the exchange goes whole, as a reset.
        return worker, cut.model_copy(update={"sent": "\n".join(left), "keep_message": False})


def deleted_with(channel_id: int, messages: Sequence[discord.Message]) -> list[discord.Message]:
    """Those of `messages` a channel's deletion takes: said in it or in one of its threads."""
    return [m for m in messages if channel_id in (m.channel.id, parent_id(m.channel))]


async def _post(
    channel: discord.abc.Messageable,
    part: str,
    reference: discord.MessageReference | None,
    nonce: int,
) -> discord.Message:
    """One part, pinging nobody, unfurling no link (a member's link repeated by her
    would otherwise show the picture or GIF they chose, in her name); quoting
    `reference` when given. discord.py sends `nonce` with `enforce_nonce`: Discord
    answers a second post with the same nonce with the message the first created."""
    return await channel.send(
        part,
        reference=reference,  # type: ignore[arg-type]  # discord.py takes None for none
        mention_author=False,
        allowed_mentions=discord.AllowedMentions.none(),
        suppress_embeds=True,
        nonce=nonce,
    )


async def _post_retrying(
    message: discord.Message,
    part: str,
    reference: discord.MessageReference | None,
    limits: Limits,
    turn: HeldTurn,
    nothing_sent: bool,
) -> discord.Message:
    """`_post`, tried again (`POST_RETRY_DELAYS`, within `POST_RETRY_WITHIN_SECONDS`)
    after a 5xx or a dropped connection: each try carries the same nonce, so one that
    Discord created before failing is returned, not posted twice. Raises the last
    failure, or ClientClosed once the client closed. While nothing of this reply went
    out, the channel's `turn` is let go during a wait: other replies there are tried."""
    nonce = secrets.randbits(63)
    started = time.monotonic()
    for delay in (*POST_RETRY_DELAYS, None):
        if limits.closed():
            raise ClientClosed
        try:
            return await _post(message.channel, part, reference, nonce)
        except (discord.DiscordServerError, *UNCONFIRMED_POST) as exc:
            if delay is None or time.monotonic() - started + delay > POST_RETRY_WITHIN_SECONDS:
                raise
            log.info(
                "posting to Discord %s failed (%s); trying again in %g s",
                _where(message),
                str(exc) or type(exc).__name__,
                delay,
            )
        if nothing_sent:
            turn.let_go()
        try:
            await _wait_unless_closed(delay, limits)
        finally:
            if nothing_sent:
                await turn.take_back()
    raise AssertionError("unreachable: the last try returns or raises")


# How often a retry's wait looks whether the client closed (`atri serve` stopping).
CLOSED_LOOK_SECONDS = 0.25


async def _wait_unless_closed(seconds: float, limits: Limits) -> None:
    """`seconds`, cut short once the client closes: the part is then not posted, and her
    memory is corrected while the service is still up (a 20 s wait outlasted a stop,
    which left the unposted reply remembered as said)."""
    until = time.monotonic() + seconds
    while not limits.closed() and (left := until - time.monotonic()) > 0:
        await asyncio.sleep(min(left, CLOSED_LOOK_SECONDS))


# What a post fails with besides Discord's refusal (discord.HTTPException): the
# connection dropped mid-post, the network down, aiohttp's timeout. Whether the part went
# out is not known; memory keeps it as not sent.
UNCONFIRMED_POST = (aiohttp.ClientError, TimeoutError, OSError)


def cannot_post_reason(message: discord.Message) -> str | None:
    """Why she cannot post in the server channel or thread of `message` now, as the log
    says it (`why_not`); None when she can, in a DM, or when her permissions there are
    not known."""
    me = message.guild.me if message.guild is not None else None
    reason = why_not(message.channel, me)
    if reason == "timed_out" and me is not None and me.timed_out_until is not None:
        return f"timed out until {me.timed_out_until:%Y-%m-%d %H:%M} UTC"
    return None if reason is None else CANNOT_POST_SAID.get(reason, reason)


def _where(message: discord.Message) -> str:
    """The channel a reply goes to, as a log names it: a DM names its person (a refusal
    there, 50007, is theirs: DMs closed, or no server shared)."""
    if message.guild is None:
        return f"DM with {message.author} ({message.author.id})"
    return f"channel {message.channel.id}"


async def send_reply(
    message: discord.Message,
    text: str,
    limits: Limits,
    stored: StoredReply | None = None,
) -> list[discord.Message]:
    """Every part replies to `message` and pings nobody, not even its author, and no
    other reply's parts go out in the channel meanwhile. A part Discord refuses ends the
    reply, as does a message deleted meanwhile that it answers or repeats
    (`_stopped_by_a_delete`); `stored` (the worker and the exchange it stored) then keeps
    only the parts that went out, which `limits.posted` learns."""
    reference: discord.MessageReference | None = message.to_reference(fail_if_not_exists=False)
    parts = outgoing_parts(text, names_for(message)) or ["……"]
    sent: list[discord.Message] = []
    async with HeldTurn(limits.turns.turn(message.channel.id)) as turn:
        for part in parts:
            if _stopped_by_a_delete(message, parts[len(sent) :], limits):
                break
            try:
                try:
                    sent.append(
                        await _post_retrying(message, part, reference, limits, turn, not sent)
                    )
                except discord.HTTPException as exc:
                    if reference is None or exc.code != CANNOT_REPLY_WITHOUT_HISTORY:
                        raise
                    log.info(
                        "Discord channel %s denies ATRI Read Message History: her answer "
                        "goes out without quoting the message",
                        message.channel.id,
                    )
                    reference = None  # this part and the rest
                    sent.append(
                        await _post_retrying(message, part, reference, limits, turn, not sent)
                    )
            except discord.HTTPException as exc:
                _log_refused(message, exc, limits)
                break
            except (ClientClosed, RuntimeError, *UNCONFIRMED_POST) as exc:
                # A closed client's post fails as aiohttp's RuntimeError("Session is
                # closed"): not sent, as any other. Otherwise such an error is a bug.
                if limits.closed():
                    log.warning(
                        "Discord: ATRI's reply in %s was not posted, the Discord client "
                        "closed meanwhile; her memory keeps only what went out",
                        _where(message),
                    )
                    break
                if not isinstance(exc, UNCONFIRMED_POST):
                    raise
                # The rest is not tried: one lost post reads as a gap mid-reply.
                log.warning(
                    "posting to Discord %s failed: %s; not confirmed",
                    _where(message),
                    str(exc) or type(exc).__name__,
                )
                break
    if stored is not None and sent:
        limits.posted.add(stored, sent, parts)
    if stored is not None and len(sent) < len(parts):
        worker, cut = stored
        async with telling_worker("correct the memory of a reply cut short", log):
            await worker.cut_reply(cut.model_copy(update={"sent": "\n".join(parts[: len(sent)])}))
    return sent


def _stopped_by_a_delete(message: discord.Message, rest: list[str], limits: Limits) -> bool:
    """Whether the `rest` of a reply to `message` is not posted: a message deleted since
    in its channel is the one it answers, or its words are repeated (`Recalls.stops`)."""
    why = limits.recalls.stops(str(message.channel.id), str(message.id), "".join(rest))
    if why == "answers":
        log.info(
            "Discord: message %s in %s was deleted: %d part(s) of her reply to it not posted",
            message.id,
            _where(message),
            len(rest),
        )
    elif why == "repeats":
        log.info(
            "Discord: %d part(s) of a reply to %s in %s not posted: they repeat a message "
            "deleted there",
            len(rest),
            message.author.id,
            _where(message),
        )
    return why is not None


def _log_refused(message: discord.Message, exc: discord.HTTPException, limits: Limits) -> None:
    """A refused post: a warning, unless she may no longer post there (timed out, Send
    Messages taken away or the thread locked while she wrote): that is the moderators'
    choice, said once, and the messages after it there are not answered (`answer`)
    without another line."""
    if exc.status == 429:  # discord.py waits out Discord's own; this is its edge's
        if limits.edge_ban.should_tell("edge"):
            log.warning(
                "Discord's edge (Cloudflare) has rate-limited this machine's IP address, "
                "usually for about an hour, most often after too many invalid requests "
                "(floods of 401, 403 or 429 answers): her replies are refused until it lifts"
            )
        else:
            log.debug("reply in Discord %s refused by Discord's edge (429)", _where(message))
        return
    refusal = isinstance(exc, discord.Forbidden) or exc.code in THREAD_CLOSED_CODES
    reason = cannot_post_reason(message) if refusal else None
    if reason is None:
        log.warning("could not reply in Discord %s: %s", _where(message), exc)
        return
    limits.silent_in(message)
    limits.cannot_post.should_tell(str(message.channel.id))
    log.info(
        "Discord: ATRI's reply in channel %s stopped, she cannot post there now (%s); "
        "her memory keeps only what went out",
        message.channel.id,
        reason,
    )


def _told_cannot_post(message: discord.Message, reason: str, limits: Limits) -> None:
    """One line per channel per CANNOT_POST_TOLD_EVERY_SECONDS."""
    limits.silent_in(message)
    if limits.cannot_post.should_tell(str(message.channel.id)):
        log.info(
            "Discord: ATRI cannot post in channel %s (%s): messages for her there are not "
            "answered, only heard",
            message.channel.id,
            reason,
        )


# How long the roles someone holds in ATRI's servers are trusted for their DMs.
DM_ROLES_SECONDS = 300.0
# People whose roles are kept before those kept too long are dropped (then again each
# time the table has doubled, see `Sweeps`).
DM_ROLES_KEPT = 10_000


def freshly_edited(message: discord.Message) -> bool:
    """Edited within EDIT_ANSWERED_WITHIN_SECONDS, by Discord's edit time."""
    if message.edited_at is None:
        return False
    ago = (discord.utils.utcnow() - message.edited_at).total_seconds()
    return ago <= EDIT_ANSWERED_WITHIN_SECONDS


def _text_edited(message: discord.Message, before: discord.Message | None, me_id: int) -> bool:
    """Whether an update changed what she reads of the message (`said_in`: its text and
    the notes on its attachments and stickers, so an attachment removed counts), not a
    link's embed loading or a pin."""
    if message.edited_at is None:
        return False
    return before is None or said_in(before, me_id) != said_in(message, me_id)


# Message ids remembered as already for her (see AtriClient.on_raw_message_edit).
SPOKEN_TO_KEPT = 2000


class Limits:
    """What the handler remembers between messages: replies per channel, notices told,
    typing shown, whose turn it is to post. One per client, never shared by two.
    `closed`: whether that client closed (no post can go out any more)."""

    def __init__(self, cfg: DiscordSettings, closed: Callable[[], bool] = lambda: False) -> None:
        self.closed = closed
        self.replies = ReplyCap(cfg.max_replies_per_minute)
        self.notices = QuietNotices()
        # One ⏳ per person a minute: each is a request, and a burst of them turned away
        # queued under Discord's rate limit ahead of her answers.
        self.reactions = QuietNotices()
        self.posted = PostedReplies()
        # Channels whose "she cannot post here" was logged lately (see `cannot_post_reason`).
        self.cannot_post = QuietNotices(CANNOT_POST_TOLD_EVERY_SECONDS)
        # Whether Discord's edge ban (a Cloudflare 429) was logged lately.
        self.edge_ban = QuietNotices(EDGE_BAN_TOLD_EVERY_SECONDS)
        # Where, for `/atri status` (the same channels, kept longer).
        self.silent = SilentChannels()
        self.typing = TypingShown()
        # Each part quotes its message, but two replies' parts alternating in a channel
        # still read as one muddle: a channel gets one whole reply at a time.
        self.turns = OneReplyAtATime()
        # Threads discord.py forgot (archived), as Discord last named them: one request
        # per thread, not per message in it (`with_known_channel`).
        self.threads = ForgottenThreads()
        # A share notice waits for the answers it speaks of (`answer_key`).
        self.under_way = AnswersUnderWay()
        # Messages deleted lately: a reply still to be posted is checked before each part.
        self.recalls = Recalls()

    def silent_in(self, message: discord.Message) -> None:
        """A message for her came where she cannot post (a server channel)."""
        if message.guild is not None:
            self.silent.seen(message.guild.id, message.channel.id)

    def count_reply(self, message: discord.Message) -> Counted | None:
        """Count a reply to `message` under its channel's cap; in a server channel its
        author gets at most their share of it, in a DM all of it. None: no reply."""
        person = str(message.author.id) if message.guild is not None else None
        return self.replies.allow(str(message.channel.id), person)

    def count_share_notice(self, message: discord.Message) -> Counted | None:
        """After `count_reply` turned `message` away: count a notice to its author that
        their share of the server channel is used up (`ReplyCap.share_notice`). None:
        stay silent (a DM, the channel's whole cap, or told this minute)."""
        if message.guild is None:
            return None
        person = str(message.author.id)
        return self.replies.share_notice(str(message.channel.id), person, self.notices)


async def roles_in_guilds(
    guilds: Sequence[discord.Guild], user_id: int, listed: set[int]
) -> set[int]:
    """The roles of `listed` that `user_id` holds in `guilds`, asked of Discord for
    members not cached (no Server Members intent is needed to fetch one member). Only
    the servers that have one of those roles are asked: a DM from a stranger cost one
    request per server ATRI is in, all refused, before a word was answered."""
    roles: set[int] = set()
    for guild in guilds:
        if not any(guild.get_role(role) is not None for role in listed):
            continue  # no listed role here: what they hold here decides nothing
        member = guild.get_member(user_id)
        if member is None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:  # an outage (retried), 403: unknown, not none
                raise RolesUnknown(
                    user_id, visible_name(guild.name), f"HTTP {exc.status}"
                ) from None
        roles |= {role.id for role in member.roles} & listed
    return roles


async def hear(
    message: discord.Message, worker: Worker, request: ChatRequest, limits: Limits
) -> list[discord.Message]:
    """Room context for the worker. Nothing is posted unless the worker chose to speak
    up (an "ok" reply with text), which it does not where `request` says she cannot post
    (`may_speak_up`); a failure is only logged: nobody asked her anything."""
    if not request.text:
        return []
    try:
        reply = await worker.chat(request)
    except Exception as exc:
        log.debug("Discord room line %s not kept: %s", message.id, exc)
        return []
    if reply.status != "ok" or not reply.text:
        return []
    if limits.count_reply(message) is None:
        return []
    # She spoke up: an ordinary reply, stored as one (corrected if cut, or deleted).
    stored = (worker, ReplyCut.of(request))
    sent: list[discord.Message] = []
    try:
        sent = await send_reply(message, reply.text, limits, stored)
    except (discord.HTTPException, *UNCONFIRMED_POST) as exc:
        log.warning("could not speak up in Discord %s: %s", _where(message), exc)
    if not sent and not limits.recalls.was_recalled(str(message.channel.id), str(message.id)):
        # None of it posted: the exchange is archived, and what she heard stays what it
        # was, a room line (as on QQ), not lost with her reply; one deleted meanwhile goes.
        try:
            await worker.chat(request.model_copy(update={"may_speak_up": False}))
        except Exception as exc:
            log.debug("Discord room line %s not kept: %s", message.id, exc)
    return sent


async def answer(
    message: discord.Message,
    worker: Worker,
    cfg: DiscordSettings,
    error_reply: str,
    me_id: int,
    limits: Limits | None = None,
    dm_roles: RoleLookup | None = None,
    modes: ChannelModeCache | None = None,
    for_her: Callable[[int], None] | None = None,
) -> list[discord.Message]:
    """The whole message handler. Returns the parts of her reply that went out (an
    answer, a notice, or a speak-up to a message she only heard); [] when none.

    No Exception leaves it, so a message never ends as discord.py's "Ignoring exception
    in on_message" with her state half changed:
    - a worker that fails: her error line as its chats say it (`error_line_of`:
      `error_reply` unless the worker learned its own), the failure logged; for a
      message she only hears, one debug line (`hear`);
    - a post Discord refuses (`discord.HTTPException`, Forbidden included) or that is
      cut off (`UNCONFIRMED_POST`): the reply ends there, logged, and her memory keeps
      only the parts that went out (`send_reply`);
    - a channel, or a DM author's roles, that Discord will not tell: one warning, the
      message unanswered;
    - the typing indicator or a ⏳ failing: ignored, the reply goes on;
    - anything else, a bug: logged with its traceback, the message left unanswered, [].
    What is not an Exception goes through: `asyncio.CancelledError` (its task cancelled:
    no more of her reply is posted, and the channel's turn and typing indicator are let
    go; a line saying the message was cut, already under way, still goes out),
    KeyboardInterrupt, SystemExit.

    `for_her` learns the id of a message found to be for her before she answers it, so
    that an edit made meanwhile changes what she answered (and is not answered again)."""
    limits = limits or Limits(cfg)
    try:
        place = await _place_of(message, cfg, limits, dm_roles, modes)
        if place is None:
            return []
        if not should_answer(message, me_id, cfg, place.roles, place.mode):
            return await _overhear(message, worker, cfg, me_id, place.mode, limits)
        if for_her is not None:
            for_her(message.id)
        return await _answer_or_hear(message, worker, cfg, error_reply, me_id, place.mode, limits)
    except Exception:
        log.exception("Discord message %s could not be handled; it is left unanswered", message.id)
        return []


@dataclass(frozen=True)
class _Place:
    """What `should_answer` needs to know of where a message was said, and by whom."""

    roles: set[int] | None  # a DM author's roles in her servers, where role lists apply
    mode: ChannelMode | None  # the server channel's mode (`/atri mode`), if asked


async def _place_of(
    message: discord.Message,
    cfg: DiscordSettings,
    limits: Limits,
    dm_roles: RoleLookup | None,
    modes: ChannelModeCache | None,
) -> _Place | None:
    """Its channel made known, its author's roles (a DM, under role lists) and the
    channel's mode looked up; None, with one warning, where Discord would not tell."""
    try:
        await with_known_channel(message, limits.threads)
    except ChannelUnknown as exc:
        log.warning("%s", exc)
        return None
    roles = None
    role_lists = cfg.allowed_roles or cfg.blocked_roles
    if message.guild is None and role_lists and dm_roles is not None:
        try:
            roles = await dm_roles(message.author.id)
        except RolesUnknown as exc:
            log.warning("%s", exc)
            return None
    mode: ChannelMode | None = None
    if message.guild is not None and modes is not None:
        parent = parent_id(message.channel)  # a thread's channel
        mode = await modes.chosen(str(message.channel.id), str(parent or ""))
    return _Place(roles, mode)


async def _overhear(
    message: discord.Message,
    worker: Worker,
    cfg: DiscordSettings,
    me_id: int,
    mode: ChannelMode | None,
    limits: Limits,
) -> list[discord.Message]:
    """A message not for her: heard where she listens (`should_hear`), else nothing."""
    if not should_hear(message, me_id, cfg, mode):
        return []
    heard = to_request(message, me_id, cfg)
    # No speak-up (a generation) where it could not be posted.
    can_post = cannot_post_reason(message) is None
    heard = heard.model_copy(update={"may_speak_up": can_post})
    return await hear(message, worker, heard, limits)


async def _answer_or_hear(
    message: discord.Message,
    worker: Worker,
    cfg: DiscordSettings,
    error_reply: str,
    me_id: int,
    mode: ChannelMode | None,
    limits: Limits,
) -> list[discord.Message]:
    """A message `should_answer` let through: answered (`_reply`), or only heard where
    her answer could not go out, or where it is a picture nobody asked her about."""
    request = to_request(message, me_id, cfg)
    words = _words_in(message, me_id)
    media_line = media_only_line(message, words)
    reason = cannot_post_reason(message)
    if reason is not None:
        # No generation (minutes on a CPU, others waiting) for an answer that cannot go
        # out, nor for a speak-up to it: the message is heard as any other there.
        _told_cannot_post(message, reason, limits)
        if not should_hear(message, me_id, cfg, mode):
            return []
        heard = request.model_copy(update={"addressed": False, "may_speak_up": False})
        return await hear(message, worker, heard, limits)
    if not request.text and not request.addressed:
        return []  # nothing to answer in a listened-to channel (e.g. no Message Content)
    if media_line is not None and not request.addressed:
        # Not every picture in a channel she answers in full (as on QQ): heard, as a
        # message not for her is, with no speak-up (a generation) about it.
        heard = request.model_copy(update={"may_speak_up": False})
        return await hear(message, worker, heard, limits)
    # Whatever passed should_answer is for her (a mention, or a channel she answers in
    # full); to the worker, an unaddressed message is one she only overhears.
    request = request.model_copy(update={"addressed": True})
    return await _reply(message, worker, request, error_reply, limits, media_line, is_cut(words))


async def _reply(
    message: discord.Message,
    worker: Worker,
    request: ChatRequest,
    error_reply: str,
    limits: Limits,
    media_line: str | None,
    cut: bool,
) -> list[discord.Message]:
    """Her answer under the channel's reply cap: past it a share notice, or silence; her
    line for a message that is only media; else the worker's answer (`_chat_and_reply`),
    after a line saying the message was cut when it was."""
    counted = limits.count_reply(message)
    if counted is None:
        return await _share_used_up(message, limits)
    if media_line is not None:
        # Her line, not a generation: after her answers to this member's earlier words.
        await limits.under_way.finished(answer_key(message))
        return await send_reply(message, media_line, limits)
    told_cut = _tell_cut(message, limits) if cut else None
    try:
        with limits.under_way.answering(answer_key(message)):
            return await _chat_and_reply(message, worker, request, error_reply, limits, counted)
    finally:
        if told_cut is not None:
            await told_cut


async def _share_used_up(message: discord.Message, limits: Limits) -> list[discord.Message]:
    """Past the reply cap: a notice that the author's share is used up, once a while and
    after their answers under way (`Limits.count_share_notice`), else silence."""
    told = limits.count_share_notice(message) is not None
    log.info(
        "Discord: reply cap (or %s's share of it) reached in channel %s; %s",
        message.author.id,
        message.channel.id,
        "told them their share is used up" if told else "staying silent",
    )
    if not told:
        return []
    await limits.under_way.finished(answer_key(message))
    return await send_reply(message, lines().share_used_up, limits)


def _tell_cut(message: discord.Message, limits: Limits) -> asyncio.Task[list[discord.Message]]:
    """As on QQ and the console, one short line before her answer: else a long paste's
    end was dropped without a word, and her answer to its start read as one to all of it.
    A reply, pinging nobody (`send_reply`). Posted beside the generation, not before it:
    the member's next message reached the worker first. It takes the channel's turn
    first, so it still goes out first."""
    log.info(
        "Discord: %s's message cut to its first %d characters",
        message.author.id,
        MAX_INPUT_CHARS,
    )
    return asyncio.create_task(
        send_reply(message, lines().input_cut.format(count=MAX_INPUT_CHARS), limits)
    )


def answer_key(message: discord.Message) -> str:
    """Whose answers in which channel, for a share notice to follow them."""
    return f"{message.channel.id}:{message.author.id}"


async def _chat_and_reply(
    message: discord.Message,
    worker: Worker,
    request: ChatRequest,
    error_reply: str,
    limits: Limits,
    counted: Counted,
) -> list[discord.Message]:
    """The worker asked (typing shown meanwhile) and its reply posted: her error line
    when it failed; nothing for a message deleted meanwhile; a ⏳, not a second notice in
    a minute, when she is busy. `counted` is given back when she does not reply."""
    stored: StoredReply | None = None
    try:
        async with limits.typing.shown_in(message.channel):
            reply = await worker.chat(request)
    except Exception:
        log.exception("Discord message %s could not be answered", message.id)
        text = error_line_of(worker, error_reply)
    else:
        text = reply.text
        if reply.status == "recalled":
            limits.replies.give_back(counted)
            return []  # deleted before she began: nothing to reply to
        if reply.status in QUIET_STATUSES and not limits.notices.should_tell(request.user_id):
            limits.replies.give_back(counted)  # a reaction, not a reply
            if limits.reactions.should_tell(request.user_id):
                await _react_quietly(message)
            return []
        if reply.status == "ok":
            # None of it posted (a refused post): the message stays in memory, unanswered.
            stored = (worker, ReplyCut.of(request, keep_message=True))
    return await send_reply(message, text, limits, stored)


async def _react_quietly(message: discord.Message) -> None:
    """A ⏳ on `message`; one refused or cut off is left at that (it says nothing)."""
    with suppress(discord.HTTPException, *UNCONFIRMED_POST):
        await message.add_reaction(QUIET_REACTION)


class AtriClient(discord.Client):
    """discord.py client with ATRI's message handler and slash commands."""

    def __init__(
        self,
        worker: Worker,
        cfg: DiscordSettings,
        *,
        sync_state_path: Path,
        error_reply: str = WorkerSettings().error_reply,
        defer_after: float = DEFER_AFTER_SECONDS,
        command_name: str = DEFAULT_COMMAND,
        **options: Any,
    ) -> None:
        # ATRI never joins voice: no warning about the voice libraries she does not need.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents(), allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.worker = worker
        self.cfg = cfg
        self.error_reply = error_reply
        self.limits = Limits(cfg, closed=self.is_closed)
        self.modes = ChannelModeCache(worker, PLATFORM)
        self._dm_roles: dict[int, tuple[float, set[int]]] = {}
        self._dm_roles_sweeps = Sweeps(DM_ROLES_KEPT)
        # Messages already for her (mentioning her when sent, answered, or answered after
        # an edit): an edit of one is never answered (again).
        self.spoken_to: OrderedDict[int, None] = OrderedDict()
        # What was last registered with Discord, so an unchanged set is not re-sent.
        self.sync_state_path = sync_state_path
        self.tree: app_commands.CommandTree[AtriClient] = app_commands.CommandTree(self)
        add_commands(
            self.tree,
            worker,
            cfg,
            defer_after,
            self.modes,
            self.roles_for_dm,
            command_name,
            self.limits.silent,
        )

    async def setup_hook(self) -> None:
        await sync_commands(self, self.tree, self.cfg.guild_ids, self.sync_state_path)

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        """Nothing once closed. discord.py's close() leaves running the task that waits
        (`guild_ready_timeout`, 2 s) for the servers after READY; when it ends it
        dispatches "ready" to a client whose loop is gone, which failed with "Task
        exception was never retrieved" and a handler coroutine never awaited (a client
        closed within 2 s of connecting: `atri serve` reconnecting, or asked for shards)."""
        if self.is_closed():
            return
        if event == "socket_event_type" and args and args[0] == "THREAD_LIST_SYNC":
            # She can see channels again whose thread updates did not reach her meanwhile
            # (discord.py has no event of its own for it). Here, not as a handler: one
            # would be a task for every gateway event.
            self.limits.threads.clear()
        super().dispatch(event, *args, **kwargs)

    async def on_ready(self) -> None:
        # A new session: the thread events missed meanwhile are not replayed.
        self.limits.threads.clear()
        ready_log.info("ATRI is on Discord as %s in %d servers", self.user, len(self.guilds))

    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        """Archived, locked, reopened: a thread fetched before is fetched again when a
        message comes in it and discord.py still does not hold it. The raw event: the
        other is only for threads discord.py holds."""
        self.limits.threads.forget(payload.thread_id)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        self.limits.threads.forget(payload.thread_id)
        await self._forget_channel(payload.thread_id, payload.guild_id)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Its threads discord.py holds come after it, each as a thread deleted."""
        self.limits.threads.forget_threads_of(channel.id)
        await self._forget_channel(channel.id, channel.guild.id)

    async def _forget_channel(self, channel_id: int, guild_id: int) -> None:
        """Discord deletes a channel's messages (and its threads') with it, and sends no
        delete of each: the worker archives what it kept of them as of deleted messages
        (`Worker.forget_channel`). Which messages were said there, for memory kept per
        person, is what this client holds: its message cache (the last 1000) and her
        replies posted (`PostedReplies`), none from before a restart."""
        async with telling_worker(f"forget deleted Discord channel {channel_id}", log):
            said = deleted_with(channel_id, self.cached_messages)
            threads = {m.channel.id for m in said} - {channel_id}
            answered = self.limits.posted.answered_in({str(c) for c in (channel_id, *threads)})
            ids = answered | {str(m.id) for m in said}
            ref = ChannelRef(
                platform=PLATFORM,
                channel_id=str(channel_id),
                guild_id=str(guild_id),
                thread_ids=[str(t) for t in sorted(threads)],
                request_ids=sorted(ids, key=int, reverse=True)[:MAX_CHANNEL_MESSAGES],
            )
            await self.worker.forget_channel(ref)

    async def roles_for_dm(self, user_id: int) -> set[int]:
        """The roles someone holds in ATRI's servers, kept a few minutes: a member
        blocked (or allowed) by role is treated the same in a DM."""
        now = time.monotonic()
        known = self._dm_roles.get(user_id)
        if known is not None and now - known[0] < DM_ROLES_SECONDS:
            return known[1]
        listed = {*self.cfg.allowed_roles, *self.cfg.blocked_roles}
        roles = await roles_in_guilds(self.guilds, user_id, listed)
        self._dm_roles[user_id] = (now, roles)
        if self._dm_roles_sweeps.due(len(self._dm_roles)):  # strangers' DMs must not pile up
            self._dm_roles = {
                user: held
                for user, held in self._dm_roles.items()
                if now - held[0] < DM_ROLES_SECONDS
            }
            self._dm_roles_sweeps.swept(len(self._dm_roles))
        return roles

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted message: her exchange about it (she answered it) or its room line
        (she only heard it) is archived, as a reset would. The raw event, since the
        message cache (the last 1000) may no longer hold it: the line is found anyway.
        A part of her own reply deleted leaves her memory of that reply."""
        if await self._unsay(payload.message_id):
            return
        await self._forget(
            payload.message_id, payload.channel_id, payload.guild_id, payload.cached_message
        )

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """A moderator's purge: each message as if deleted alone."""
        cached = {message.id: message for message in payload.cached_messages}
        for message_id in payload.message_ids:
            if await self._unsay(message_id):
                continue
            await self._forget(
                message_id, payload.channel_id, payload.guild_id, cached.get(message_id)
            )

    async def _forget(
        self,
        message_id: int,
        channel_id: int,
        guild_id: int | None,
        message: discord.Message | None,
        line_only: bool = False,
    ) -> None:
        """A message deleted (`line_only`: only its room line forgotten, the message
        being about to be answered): the worker forgets it, and what is still to be
        posted of her replies to it, or repeating it, is not posted (`Limits.recalls`)."""
        async with telling_worker(f"forget deleted Discord message {message_id}", log):
            request = None
            if message is not None:
                request = to_request(message, self.user.id if self.user else 0, self.cfg)
            if not line_only:
                said = request.text if request is not None else None
                self.limits.recalls.recalled(str(channel_id), str(message_id), said)
            if request is not None:
                ref = MessageRef.of(request)
            else:
                # Whose it was is gone with the cache (or not needed: `line_only`): the
                # worker finds its exchange by the message id (a DM has no room line,
                # and its scope no channel).
                in_guild = guild_id is not None
                ref = MessageRef(
                    platform=PLATFORM,
                    channel_id=str(channel_id) if in_guild else "",
                    guild_id=str(guild_id) if in_guild else "",
                    request_id=str(message_id),
                    line_only=line_only,
                )
            await self.worker.forget_message(ref)

    async def _unsay(self, message_id: int) -> bool:
        """When `message_id` was a part of her stored reply: memory keeps only the parts
        still posted (none left: the exchange is archived, as a reset would). True then."""
        found = self.limits.posted.deleted(message_id)
        if found is None:
            return False
        worker, cut = found
        async with telling_worker(f"forget ATRI's deleted Discord message {message_id}", log):
            await worker.cut_reply(cut)
        return True

    def _remember(self, message_id: int) -> None:
        self.spoken_to[message_id] = None
        while len(self.spoken_to) > SPOKEN_TO_KEPT:
            self.spoken_to.popitem(last=False)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A server message edited to mention her is answered once: not when it mentioned
        her before (or was answered), not again on a later edit, not for an update that
        is no fresh edit (`freshly_edited`); any other edit of one she heard changes its
        room line. The raw event, since the message cache may no
        longer hold the original."""
        message, before = payload.message, payload.cached_message
        if self.user is None:
            return
        if message.id in self.spoken_to:
            await self._reword_answered(message, before)
            return
        if message.guild is None:
            return
        try:
            await with_known_channel(message, self.limits.threads)
        except ChannelUnknown as exc:
            log.debug("%s", exc)
            return
        if not is_mentioned(message, self.user.id):
            await self._reword(message, before)
            return
        if before is not None and is_mentioned(before, self.user.id):
            return
        if not freshly_edited(message):
            return  # pinned, say, long after she answered it (and forgot it since)
        self._remember(message.id)
        # Heard before, now for her: the exchange holds it, its old room line goes. The
        # line takes the new text first: archived only, it kept the old one (a phone
        # number edited out as her mention was added) in the file and in exports.
        await self._edit_remembered(message)
        # The line alone: a recall of the message itself would keep her from answering it.
        await self._forget(message.id, message.channel.id, message.guild.id, None, line_only=True)
        await self._answer(message)

    async def _reword_answered(
        self, message: discord.Message, before: discord.Message | None
    ) -> None:
        """A message she answered (or is answering) edited, in a server or a DM: her
        conversation keeps its new text, not the old (a phone number edited out). It is
        not answered again."""
        if self.user is None or not _text_edited(message, before, self.user.id):
            return
        await self._edit_remembered(message)

    async def _reword(self, message: discord.Message, before: discord.Message | None) -> None:
        """An overheard message edited: its room line takes the new text, so the old one
        (a phone number edited out) reaches no later prompt. The worker changes only a
        line it keeps: it adds none, and never speaks up to an edit."""
        me_id = self.user.id if self.user else 0
        if not _text_edited(message, before, me_id):
            return
        parent = parent_id(message.channel)
        mode = await self.modes.chosen(str(message.channel.id), str(parent or ""))
        if should_hear(message, me_id, self.cfg, mode):
            await self._edit_remembered(message)

    async def _edit_remembered(self, message: discord.Message) -> None:
        """`message`, edited, as its new text for the worker (`ChatRequest.as_edit`): its
        room line and her conversation take it where they hold it (nothing is added).
        One the worker did not take (`HttpWorker.chat` answers her error line, having
        logged why) is a warning too: the old text stays in memory."""
        async with telling_worker(f"change Discord message {message.id} in memory", log):
            request = to_request(message, self.user.id if self.user else 0, self.cfg)
            if not request.text:
                return
            reply = await self.worker.chat(request.as_edit())
            if reply.status == "error":
                raise WorkerUnreachable("the worker did not take the edit; it keeps the old text")

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None and is_addressed(message, self.user.id, self.cfg):
            self._remember(message.id)
        # `_answer` remembers one for her by her channel's setting once it knows; one
        # she spoke up to, once she has.
        if await self._answer(message):
            self._remember(message.id)

    async def _answer(self, message: discord.Message) -> list[discord.Message]:
        if self.user is None:
            return []
        return await answer(
            message,
            self.worker,
            self.cfg,
            self.error_reply,
            self.user.id,
            self.limits,
            self.roles_for_dm,
            self.modes,
            self._remember,
        )


class AtriShardedClient(AtriClient, discord.AutoShardedClient):
    """The same client, as many shards as Discord recommends (asked for with close 4011)."""


# Gateway close codes that a reconnect cannot cure, and what to change.
FATAL_CLOSE_CODES = {
    4004: "Discord refused ATRI_DISCORD_TOKEN: copy the token again from the developer "
    "portal (your application → Bot → Reset Token).",
    4012: "Discord refused the gateway version discord.py speaks: upgrade discord.py.",
    4013: "Discord refused the intents ATRI asked for: upgrade ATRI and discord.py.",
    4014: "Discord refused the Message Content intent: turn it on in the developer portal "
    "(your application → Bot → Privileged Gateway Intents → Message Content Intent).",
}
SHARDING_CLOSE_CODES = {4010, 4011}


async def run_discord(
    worker: Worker, settings: Settings, secrets: Secrets, card: Persona | None = None
) -> None:
    """Run the Discord adapter until cancelled; refusals become one clear sentence.
    `card`: the character card, when `atri serve` has read it already.

    Close codes that a reconnect cannot cure raise DiscordLoginError; other failures
    propagate for `atri serve` to retry. Asked for shards, she reconnects sharded."""
    if secrets.discord_token is None:
        raise DiscordLoginError("ATRI_DISCORD_TOKEN is not set: put the bot's token in it.")
    for name in RECONNECTING_LOGGERS:
        reconnect_logger = logging.getLogger(name)
        if OUTAGE_LINES not in reconnect_logger.filters:
            reconnect_logger.addFilter(OUTAGE_LINES)
    state = settings.path(settings.discord.commands_state)
    if state.is_dir():  # found only after the login and the commands' sync, at each start
        raise ConfigError(
            f"[discord] commands_state {state} is a folder: name a file there, such as "
            f"{state / 'discord_commands.json'}."
        )
    try:
        await _run_client(AtriClient, worker, settings, secrets, card)
    except discord.ConnectionClosed as exc:
        if exc.code not in SHARDING_CLOSE_CODES:
            raise
        log.info("Discord asks for shards (close code %s): reconnecting sharded", exc.code)
        await _run_client(AtriShardedClient, worker, settings, secrets, card)


async def _run_client(
    kind: type[AtriClient],
    worker: Worker,
    settings: Settings,
    secrets: Secrets,
    card: Persona | None,
) -> None:
    assert secrets.discord_token is not None
    client = kind(
        worker,
        settings.discord,
        error_reply=canned_lines(settings, card).error,
        sync_state_path=settings.path(settings.discord.commands_state),
        command_name=settings.bot.command_name,
    )
    try:
        # Closing does not wait for the replies still being generated: after 4004 the
        # token posts nothing either, and a CPU generation would hold a stop or a
        # reconnect for minutes. Each ends as a reply not sent (`send_reply`).
        async with client:
            await client.start(secrets.discord_token.get_secret_value())
    except discord.LoginFailure:
        raise DiscordLoginError(FATAL_CLOSE_CODES[4004]) from None
    except discord.PrivilegedIntentsRequired:
        raise DiscordLoginError(FATAL_CLOSE_CODES[4014]) from None
    except discord.ConnectionClosed as exc:
        if exc.code in FATAL_CLOSE_CODES:
            raise DiscordLoginError(FATAL_CLOSE_CODES[exc.code]) from None
        raise
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise DiscordUnreachable(unreachable(exc)) from None


def unreachable(exc: BaseException) -> str:
    """The sentence for a connection to Discord that failed."""
    return (
        f"Discord cannot be reached ({exc.__class__.__name__}): check this machine's "
        "network connection to discord.com."
    )


# discord.py's loggers that say each reconnect try mid-session, with a traceback at ERROR.
RECONNECTING_LOGGERS = ("discord.client", "discord.shard")


class OutageLines(logging.Filter):
    """discord.py's "Attempting a reconnect in 1.06s" records, said as ATRI's start-up
    retries are: one WARNING line, the sentence `run_discord` gives for that error, no
    traceback (an hour's outage wrote hundreds of lines of them). discord.py keeps doing
    the reconnecting: its tries RESUME the session, so the events missed meanwhile come
    after it, where a new client (ATRI's own retry) would start a new session without."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Attempting a reconnect") or not record.args:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, aiohttp.ClientConnectionError | OSError):
            why = unreachable(exc)
        else:
            why = (str(exc) or exc.__class__.__name__) if exc is not None else "disconnected"
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        record.msg = "Discord failed (%s); discord.py connects again in %.1f s"
        record.args = (why, args[-1])  # the delay is the last argument, sharded or not
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


OUTAGE_LINES = OutageLines()

"""The NoneBot plugin: ATRI chats in QQ groups and private chats and takes /atri commands.

Load it with `nonebot.load_plugin("bot.qq.atri")` (after registering the OneBot v11
adapter); `atri serve` does that itself. Every handler answers in ATRI's voice or stays
silent: no exception leaves it for NoneBot to print.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nonebot import (
    get_bots,
    get_driver,
    on_command,
    on_message,
    on_notice,
)
from nonebot.adapters.onebot.v11 import (
    Adapter,
    Bot,
    Event,
    FriendRecallNoticeEvent,
    GroupAdminNoticeEvent,
    GroupBanNoticeEvent,
    GroupDecreaseNoticeEvent,
    GroupMessageEvent,
    GroupRecallNoticeEvent,
    Message,
    MessageEvent,
    PokeNotifyEvent,
)
from nonebot.adapters.onebot.v11.permission import GROUP_ADMIN, GROUP_OWNER
from nonebot.message import event_preprocessor
from nonebot.params import CommandArg
from nonebot.permission import SUPERUSER, Permission
from nonebot.plugin import PluginMetadata
from nonebot.rule import Rule

from bot import commands
from bot.channel_modes import ChannelModeCache
from bot.commands import Actor, CannotPost, CommandResult
from bot.limits import (
    MAX_INPUT_CHARS,
    QUIET_STATUSES,
    AnswersUnderWay,
    Counted,
    QuietNotices,
    ReplyCap,
    SeenRecently,
    input_kept,
)
from bot.lines import ZH, error_line_of, lines, use_command
from bot.qq import NoWorker, current_worker, reports
from bot.qq.config import Config
from bot.qq.connections import Connections, HookTasks
from bot.qq.forwards import fetch_record
from bot.qq.group_admins import GroupAdmins
from bot.qq.input_status import InputStatus
from bot.qq.mentions import (
    at_her_in,
    member_name,
    mentions_her,
    read_her_name,
    spoken_text,
)
from bot.qq.mute_watch import MuteWatch
from bot.qq.quiet_groups import Quiet, QuietGroups
from bot.qq.quotes import quoted_notes
from bot.qq.replies import Answered, ReplySender, chat_group, chat_of, conversation
from bot.qq.resend import CutReply
from bot.qq.segments import media_only_line, nothing_to_read, poke_of
from bot.qq.standalone import configure_plugin
from bot.qq.text import (
    command_words,
    drop_unfetched_quote,
    incoming_text,
    only_unread_record,
    reply_parts,
)
from bot.relay import WorkerUnreachable, telling_worker
from model.protocol import (
    ChatRequest,
    MessageRef,
    ReplyCut,
    ScopeRef,
    first_visible_name,
)

PLATFORM = "qq"

log = logging.getLogger(__name__)
# Longer than this, a message is no reset keyword, however spaced and after whichever of
# her names (each a few characters): not folded (NFKC) whole at every group message.
MAX_RESET_KEYWORD_MESSAGE_CHARS = 200

# Standalone (`nb run`), this also reaches the worker over HTTP (`bot.qq.standalone`).
config = configure_plugin()
# Every line that shows a command (`/eileen reset`) names the configured one.
use_command(config.atri_command_name)
__plugin_meta__ = PluginMetadata(
    name="ATRI",
    description=lines().qq_plugin,
    usage=lines().qq_usage,
    type="application",
    config=Config,
    supported_adapters={"~onebot.v11"},
)
# Declared once; the command layer checks `is_admin` again and logs refusals.
ADMINS: Permission = SUPERUSER | GROUP_ADMIN | GROUP_OWNER
# Message reports are read through our models: a malformed segment no longer loses the
# message inside the adapter, and each is stamped with the order it arrived in.
Adapter.add_custom_model(*reports.MODELS)


# QQ numbers the OneBot implementation reports as official bots (NapCat's
# `get_robot_uin_range`), learnt when an account connects.
robot_ranges: set[tuple[int, int]] = set()
reply_cap = ReplyCap(config.atri_max_replies_per_minute)
busy_notices = QuietNotices()
answers_under_way = AnswersUnderWay()
# One answered poke per person per `poke_cooldown_seconds`: a member poking her thirty
# times a minute is answered once.
poke_cooldown = QuietNotices(config.atri_poke_cooldown_seconds)
# NapCat posts a poke in a private chat twice, as a notice and as a message holding a
# poke segment, within a moment of each other: answered once, even with no cooldown.
POKE_ECHO_SECONDS = 3.0
poke_echoes = QuietNotices(POKE_ECHO_SECONDS)
# A group message reaches every one of ATRI's accounts in that group: one answers it.
seen_by_accounts = SeenRecently()
# How long an account quiet in a group waits before it takes a message there, so that
# another of her accounts in it which may post takes it first (`first_to_take`): the
# OneBot side hands one message to each account within milliseconds of each other.
QUIET_ACCOUNT_WAITS_S = 1.0
# Calls give up on a dropped connection at once; connect hooks' work ends at shutdown.
connections = Connections(lambda account: get_bots().get(account))
hook_tasks = HookTasks()
input_status = InputStatus(config.atri_typing_seconds, connections)
# Groups where an account cannot speak now (muted, removed): not answered meanwhile.
quiet_groups = QuietGroups()
# What the ban notices say, and OneBot answers, of the mutes on her accounts.
mute_watch = MuteWatch(connections, quiet_groups)
# Each group's owner and admins, as their messages there said (`/atri status` in private).
group_admins = GroupAdmins()
# Her replies on their way out (replies.py); a group's first refused send asks
# `mute_watch` whether the whole group is muted.
reply_sender = ReplySender(config, connections, mute_watch)


@get_driver().on_bot_disconnect
async def _connection_lost(bot: Bot) -> None:
    connections.disconnected(bot)


_channel_modes: ChannelModeCache | None = None


def channel_modes() -> ChannelModeCache:
    """What group admins set with `/atri mode`, as the current worker stores it."""
    global _channel_modes
    worker = current_worker()
    if _channel_modes is None or _channel_modes.worker is not worker:
        _channel_modes = ChannelModeCache(worker, PLATFORM)
    return _channel_modes


def parse_robot_ranges(data: Any) -> set[tuple[int, int]]:
    """`[{"minUin": "…", "maxUin": "…"}, …]` as NapCat answers; anything else: none."""
    ranges = set()
    for item in data if isinstance(data, list) else []:
        try:
            ranges.add((int(item["minUin"]), int(item["maxUin"])))
        except (KeyError, TypeError, ValueError):
            continue
    return ranges


@get_driver().on_bot_connect
async def _learn_robot_ranges(bot: Bot) -> None:
    await hook_tasks.run(_ask_robot_ranges(bot), name="atri-qq-robot-ranges")


async def _ask_robot_ranges(bot: Bot) -> None:
    try:
        ranges = parse_robot_ranges(
            await connections.call(bot, lambda: bot.call_api("get_robot_uin_range"))
        )
    except Exception as exc:  # not offered by this implementation
        log.debug("QQ: no official bot range from %s: %s", bot.self_id, exc)
        return
    robot_ranges.update(ranges)


def is_bot(user_id: int | str) -> bool:
    """ATRI's own connected accounts, `[qq] bot_ids`, and the official bot range."""
    user = str(user_id)
    if user in get_bots() or user in config.atri_bot_ids:
        return True
    number = int(user) if user.isdigit() else -1
    return any(low <= number <= high for low, high in robot_ranges)


def is_permitted(user_id: str, group_id: str) -> bool:
    """`[qq]`'s allow and block lists (blocks win); group lists only apply in groups."""
    if user_id in config.atri_blocked_users or group_id in config.atri_blocked_groups:
        return False
    if group_id and config.atri_allowed_groups and group_id not in config.atri_allowed_groups:
        return False
    return not config.atri_allowed_users or user_id in config.atri_allowed_users


def is_anonymous(event: MessageEvent) -> bool:
    """A group's anonymous member: QQ reports every one of them as the same number
    (80000000), so one's conversation, or `/atri reset`, would be all of theirs."""
    return isinstance(event, GroupMessageEvent) and (
        event.anonymous is not None or event.sub_type == "anonymous"
    )


async def _from_a_person(event: MessageEvent) -> bool:
    """Not a bot, not anonymous, and allowed to talk to her here: commands are refused
    silently too."""
    if is_bot(event.user_id) or is_anonymous(event):
        return False
    return is_permitted(str(event.user_id), chat_group(event))


async def _addressed(event: MessageEvent) -> bool:
    """Groups: @ATRI (anywhere in the message), her nickname first, or a reply to her,
    or anything where an admin set "all"; nothing where they set "off".
    Private chats: always, unless config says otherwise."""
    if isinstance(event, GroupMessageEvent):
        mode = await channel_modes().mode(str(event.group_id))
        return mode != "off" and (mode == "all" or event.is_tome() or mentions_her(event))
    return event.message_type == "private" and config.atri_reply_in_private


def _said_to_her(event: MessageEvent) -> bool:
    """A private chat, or a group message that @s her, starts with her name or replies to
    her (what `_addressed` answers in a group left at "mention")."""
    return not isinstance(event, GroupMessageEvent) or event.is_tome() or mentions_her(event)


def _said_alone(words: str) -> str:
    # Blanks of any kind dropped: an IME's full-width space (記憶を　リセット) included;
    # in any width, as her names are (ＡＴＲＩ).
    return commands.folded("".join(words.split()))


def _said_to_someone_else(event: MessageEvent) -> bool:
    """An @ of anyone but her, or a reply to someone else's message (or to one the
    implementation could not fetch): words addressed there are not hers, whatever they say."""
    me = str(event.self_id)
    if event.reply is not None and str(event.reply.sender.user_id) != me:
        return True
    return any(
        (seg.type == "at" and str(seg.data.get("qq", "")) != me) or seg.type == "reply"
        for seg in event.message
    )


async def _reset_keyword(event: MessageEvent) -> bool:
    """The whole message is the reset keyword of the language she speaks now ("reset
    memory", 記憶をリセット), or the Chinese 重置记忆, which every release took; any case
    and spacing; after her name too (亚托莉重置记忆: the name is kept in the text when it
    runs on into it); not addressed to someone else (`[CQ:at,qq=another bot] reset
    memory`). Read at each message: a standalone plugin learns her language from its
    worker after it loads."""
    if _said_to_someone_else(event):
        return False
    plain = event.get_plaintext()
    if len(plain) > MAX_RESET_KEYWORD_MESSAGE_CHARS:  # run at every group message: no long one
        return False
    said = _said_alone(plain)
    keywords = {_said_alone(ZH.qq_reset_keyword), _said_alone(lines().qq_reset_keyword)}
    names = {_said_alone(name) for name in get_driver().config.nickname} - {""}
    return bool(said) and (
        said in keywords
        or any(said.startswith(name) and said[len(name) :] in keywords for name in names)
    )


async def _overheard(event: MessageEvent) -> bool:
    """A group message not for her (the chat matcher passed it on): sent to the worker as
    room context when `room_context` is on and the group is not off."""
    if not config.atri_room_context or not isinstance(event, GroupMessageEvent):
        return False
    return await channel_modes().mode(str(event.group_id)) != "off"


def chat_request(
    event: MessageEvent, addressed: bool = True, text: str | None = None
) -> ChatRequest:
    """`text`: the words as `spoken_text` reads them (with other people's @s); only the
    first `MAX_INPUT_CHARS` of them, after a note of the message they quote (not
    counted: the note is short, see `bot.qq.quotes`): its words for this reply only.
    The words stored are noted for a recall of the message, which names only its id
    (`Recalls.heard`)."""
    sender = event.sender
    words = incoming_text(event.message) if text is None else text
    words = input_kept(words.strip()).strip()
    stored, with_quote = quoted_notes(event).texts(words) if words else ("", "")
    reply_sender.recalls.heard(chat_of(event), str(event.message_id), stored)
    return ChatRequest(
        platform=PLATFORM,
        user_id=str(event.user_id),
        text=stored,
        with_quote=with_quote,
        # A card that shows nothing (zero-width characters only) leaves the nickname.
        display_name=first_visible_name(sender.card, sender.nickname),
        channel_id=chat_group(event),
        addressed=addressed,
        request_id=f"qq-{event.message_id}",
        sent_at=reports.sent_at(event),
    )


@get_driver().on_bot_connect
async def _resend_cut_replies(bot: Bot) -> None:
    await hook_tasks.run(reply_sender.resend(bot), name="atri-qq-resend")


@get_driver().on_shutdown
async def _stop_resending() -> None:
    """NoneBot waits for every handler, shielded from cancellation: a send still waiting
    its turn (the per-minute cap, a pause, a retry) is given up now, not made when its
    turn comes. Then the hooks' work (a resend cancelled puts its reply back), then every
    reply still waiting is dropped: memory keeps only what was sent (nothing sent: the
    message it answered stays a room line), and the handlers waiting for them end now,
    not at the replies' deadline."""
    reply_sender.stopping.set()
    await hook_tasks.stop()
    await reply_sender.waiting_replies.drop_all()


def _channel_key(event: Answered) -> str:
    group = chat_group(event)
    return f"group:{group}" if group else f"private:{event.user_id}"


def count_reply(event: Answered, silence: str = "no reply") -> Counted | None:
    """Count a reply in `event`'s chat under its cap; in a group its sender gets at most
    their share of it, in a private chat all of it. None (logged): no reply."""
    group = chat_group(event)
    counted = reply_cap.allow(_channel_key(event), str(event.user_id) if group else None)
    if counted is None:
        log.info(
            "QQ: reply cap (or %s's share of it) reached in %s; %s",
            event.user_id,
            _channel_key(event),
            silence,
        )
    return counted


async def tell_share_used_up(bot: Bot, event: MessageEvent) -> None:
    """After `count_reply` turned a group member's message away: tell them, once a
    minute, that their share of the group's replies is used up (`ReplyCap.share_notice`);
    the group's whole cap, or a private chat, stays silent."""
    group = chat_group(event)
    person = str(event.user_id)
    if not group or reply_cap.share_notice(_channel_key(event), person, busy_notices) is None:
        return
    await answers_under_way.finished(_person_key(event))  # after the answers it speaks of
    log.info("QQ: told %s their share of the replies in group %s is used up", event.user_id, group)
    await reply_sender.send_reply(bot, event, lines().share_used_up)


def _person_key(event: Answered) -> str:
    return f"{_channel_key(event)}:{event.user_id}"


def first_to_hear(bot: Bot, event: GroupMessageEvent) -> bool:
    """Whether this account is the one of hers that takes this group message (each of
    her accounts in the group gets it)."""
    heard = (event.group_id, event.user_id, str(event.original_message))
    return seen_by_accounts.first(heard, by=str(bot.self_id))


async def first_to_take(bot: Bot, event: GroupMessageEvent) -> bool:
    """`first_to_hear`, where an account quiet in the group (muted, banned, its sends
    refused) first leaves another of hers connected, which may post there, a moment to
    take the message: taken by whichever got it first, a message for her was only kept
    as a room line when the quiet account came first, though the other could answer."""
    account, group = str(bot.self_id), str(event.group_id)
    if quiet_groups.quiet(account, group) and any(
        other != account and not quiet_groups.quiet(other, group) for other in get_bots()
    ):
        await asyncio.sleep(QUIET_ACCOUNT_WAITS_S)
    return first_to_hear(bot, event)


async def answer(bot: Bot, event: MessageEvent) -> None:
    if isinstance(event, GroupMessageEvent) and not await first_to_take(bot, event):
        return  # another of ATRI's accounts answers it
    if chat_group(event) and quiet_groups.quiet(str(bot.self_id), chat_group(event)):
        log.debug("QQ: group %s refuses her sends now; not answered", chat_group(event))
        # Heard as any other message there (no generation, no speak-up): once the quiet
        # ends she knows what was said to her meanwhile, as on Discord.
        if isinstance(event, GroupMessageEvent) and await _overheard(event):
            await pass_on(bot, event)
        return
    # Only here, for a message she answers: `hear` (room context) reads a record sent
    # as an id as unseen, not one call per group message.
    await fetch_record(bot, event.message, connections)
    # Pictures, stickers, faces, voice, video alone: her line says she cannot see (or
    # hear) them. A card, a file or a roll alone is read as its note (`bot.qq.segments`).
    media = nothing_to_read(event.message)
    if media and not _said_to_her(event):
        return  # not every sticker in a group set to "all"; and no reply counted for it
    counted = count_reply(event)
    if counted is None:
        await tell_share_used_up(bot, event)
        return
    if media:
        # A record sent without its messages is no picture: she says what she cannot open.
        unread = only_unread_record(event.message)
        line = lines().forward_unread if unread else media_only_line(event.message)
        await reply_sender.send_reply(bot, event, line)
        return
    text = await spoken_text(bot, event, connections)
    told_cut: asyncio.Task[None] | None = None
    if len(text.strip()) > MAX_INPUT_CHARS:
        # As the console says it: else a long paste's end was dropped without a word,
        # and her answer to its start read as one to all of it. Sent beside the
        # generation, not before it: awaited first, the member's next message (QQ splits
        # a long paste) reached the worker first and was answered and stored first. It
        # takes the conversation's turn (`one_reply_at_a_time`) before the worker
        # answers, so it still goes out first.
        log.info("QQ: %s's message cut to its first %d characters", event.user_id, MAX_INPUT_CHARS)
        told_cut = asyncio.create_task(
            reply_sender.send_reply(bot, event, lines().input_cut.format(count=MAX_INPUT_CHARS))
        )
    try:
        await chat_and_reply(bot, event, chat_request(event, text=text), counted)
    finally:
        if told_cut is not None:
            await told_cut


async def chat_and_reply(bot: Bot, event: Answered, request: ChatRequest, counted: Counted) -> None:
    """The worker's answer to `request` (said in `event`'s chat), sent as a reply; her
    error line when the worker fails, and a busy notice once a window. `counted`: the
    reply the caller counted, given back when none is sent."""
    with answers_under_way.answering(_person_key(event)):
        await _chat_and_reply(bot, event, request, counted)


async def _chat_and_reply(
    bot: Bot, event: Answered, request: ChatRequest, counted: Counted
) -> None:
    stored = heard = None
    try:
        if chat_group(event):
            reply = await current_worker().chat(request)
        else:
            async with input_status.typing(bot, event.user_id):
                reply = await current_worker().chat(request)
    except Exception:
        log.exception("QQ chat failed for user %s", event.user_id)
        text = error_line()
    else:
        text = reply.text
        silent = reply.status == "recalled"  # recalled before she began: nothing to reply to
        if reply.status in QUIET_STATUSES:
            silent = not busy_notices.should_tell(str(event.user_id))  # told this window
        if silent:
            reply_cap.give_back(counted)
            return
        if reply.status == "ok":
            heard = await _heard_if_refused(event, request)
            # Where no room line would keep the message (a private chat), memory does.
            stored = ReplyCut.of(request, keep_message=heard is None)
    await reply_sender.send_reply(bot, event, text, stored, heard)


async def _heard_if_refused(event: Answered, request: ChatRequest) -> ChatRequest | None:
    """`request` as a room line, kept when the group takes none of her reply to it (a
    refused send, or one dropped with a lost connection or at shutdown: her exchange is
    archived, see `ReplySender._given_up`), as a message for her in a group known to be
    quiet is; None outside a group with room context (a poke notice, a private chat)."""
    if not isinstance(event, GroupMessageEvent) or not await _overheard(event):
        return None
    return request.model_copy(update={"addressed": False, "may_speak_up": False})


async def hear(bot: Bot, event: GroupMessageEvent) -> None:
    """Room context for the worker. Nothing is sent to QQ unless the worker chose to speak
    up (an "ok" reply with text), which it does not in a group quiet for this account;
    a failure is only logged: nobody asked her anything."""
    if _for_another_account(bot, event):
        return  # that account answers it; claimed here, it would go unanswered
    if await first_to_take(bot, event):  # else another of ATRI's accounts passes it on
        await pass_on(bot, event)


def _for_another_account(bot: Bot, event: GroupMessageEvent) -> bool:
    """Whether the message @s, or quotes, another of her connected accounts: it reaches
    that one's chat matcher, which must be the one to take it (`first_to_take`)."""
    others = set(get_bots()) - {str(bot.self_id)}
    if not others:
        return False
    if event.reply is not None and str(event.reply.sender.user_id) in others:
        return True
    return any(at_her_in(event.original_message, other) for other in others)


async def pass_on(bot: Bot, event: GroupMessageEvent) -> None:
    """A group message this account took (`first_to_take`), to the worker as heard."""
    request = chat_request(event, addressed=False, text=await spoken_text(bot, event, connections))
    if not request.text:
        return
    if quiet_groups.quiet(str(bot.self_id), chat_group(event)):
        # Muted, or refusing her sends: no speak-up (a generation) to be refused.
        request = request.model_copy(update={"may_speak_up": False})
    try:
        reply = await current_worker().chat(request)
    except Exception as exc:
        log.debug("QQ room line from %s not kept: %s", event.user_id, exc)
        return
    if reply.status == "ok" and reply.text and count_reply(event) is not None:
        # She spoke up: an ordinary reply; refused, what she heard stays a room line.
        stored = ReplyCut.of(request)
        heard = request.model_copy(update={"may_speak_up": False})
        await reply_sender.send_reply(bot, event, reply.text, stored, heard)


async def _actor(bot: Bot, event: MessageEvent, admins: Permission) -> Actor:
    """A group's owner and admins are admins there; superusers (the bot's owners) are
    admins everywhere, also of what a member has beyond this group."""
    return Actor(
        platform=PLATFORM,
        user_id=str(event.user_id),
        is_admin=await admins(bot, event),
        channel_id=chat_group(event),
        is_owner=await SUPERUSER(bot, event),
    )


async def _reset(bot: Bot, event: MessageEvent, args: Message, words: list[str]) -> CommandResult:
    worker = current_worker()
    actor = await _actor(bot, event, ADMINS)
    ats = [str(seg.data.get("qq", "")) for seg in args if seg.type == "at"]
    targets = [t for t in ats if t.isdigit()]
    if len(ats) != len(targets) or len(targets) > 1:
        # "@全体成员", or several people: never the asker's own reset by mistake.
        return _usage()
    result: CommandResult
    if targets:
        result = await commands.reset_user(worker, actor, targets[0])
    elif not words:
        result = await commands.reset_self(worker, actor)
    elif commands.names_the_group(words[0]):
        if not actor.channel_id:
            return CommandResult(lines().group_only, ok=False)
        result = await commands.reset_channel(worker, actor)
    else:
        return _usage()
    return result


async def _forget(bot: Bot, event: MessageEvent, args: Message, words: list[str]) -> CommandResult:
    """`/atri forget` tells what it deletes; `/atri forget confirm` deletes it: the
    asker's own, always. One that names someone (`/atri forget confirm @小明`, as a reset
    of them is asked) is refused, saying so: it purged the asker, who meant someone else."""
    others = [seg for seg in args if seg.type == "at" and str(seg.data.get("qq")) != bot.self_id]
    if others:
        return CommandResult(lines().forget_own_only, ok=False)
    if len(words) > 1 or (words and not commands.confirms_forget(words[0])):
        return _usage()
    actor = await _actor(bot, event, ADMINS)
    return await commands.forget_self(current_worker(), actor, confirmed=bool(words))


async def _status(bot: Bot, event: MessageEvent) -> str:
    """`/atri status`, with why she is silent where a group is quiet for her. Asked in
    that group, the answer seldom gets out (QQ refuses it there), so a superuser asking
    in a private chat is told of every group quiet for one of her accounts, and a group's
    owner or admin of those they were last seen managing (`group_admins`); in a group
    the answer is the members' to read, and other groups are not theirs to learn of."""
    actor = await _actor(bot, event, ADMINS)
    account, group = str(bot.self_id), chat_group(event)
    here = quiet_groups.why(account, group) if group else None
    elsewhere: list[Quiet] = []
    managed: list[Quiet] = []
    if not group and actor.is_owner:
        elsewhere = quiet_groups.quiet_now()
    elif not group:
        user = str(event.user_id)
        managed = [q for q in quiet_groups.quiet_now() if group_admins.manages(q.group, user)]
    result = await commands.status(
        current_worker(),
        actor,
        _cannot_post(here, account) if here is not None else None,
        [_cannot_post(quiet, account) for quiet in elsewhere],
        [_cannot_post(quiet, account) for quiet in managed],
    )
    return result.text


def _cannot_post(quiet: Quiet, asked: str) -> CannotPost:
    """A quiet group as `/atri status` names it: the account is named when it is not
    the one asked (`asked`)."""
    said = lines()
    if quiet.account == asked:
        place = said.qq_group.format(group=quiet.group)
    else:
        place = said.qq_group_of_account.format(group=quiet.group, account=quiet.account)
    left = quiet.seconds_left
    ends = said.time_left(left) if quiet.reason == "banned" and left is not None else ""
    return CannotPost(place, quiet.reason, ends)


async def _set_mode(bot: Bot, event: MessageEvent, words: list[str]) -> CommandResult:
    mode = commands.mode_of(words[0]) if words else None
    if mode is None:
        return _usage()
    actor = await _actor(bot, event, ADMINS)
    result = await commands.set_channel_mode(current_worker(), actor, mode)
    channel_modes().forget()
    return result


async def _memory(bot: Bot, event: MessageEvent) -> str:
    """What she remembers of the asker. In a group that is the member's own conversation,
    so it goes to them alone, as a private (or group temporary) message; never to the room."""
    actor = await _actor(bot, event, ADMINS)
    result = await commands.remembered(current_worker(), actor)
    text = result.text
    if not isinstance(event, GroupMessageEvent) or not result.personal:
        # Answered as a reply, made safe and split by send_reply: in a private chat, or
        # nothing of theirs to keep private ("nothing remembered yet" said in the group,
        # not a private message and "sent you the memories").
        return text
    # Quoted messages and her replies may hold CQ-code look-alikes and run past one QQ
    # message: the same parts a reply is sent in, in the asker's private conversation, and
    # like a reply's, the parts a lost connection cuts off go out when the account is back.
    parts = reply_parts(text, config.atri_max_message_chars, config.atri_max_reply_parts)
    reply = CutReply(str(bot.self_id), event, parts, 0, privately=True)
    async with reply_sender.one_reply_at_a_time.turn((reply.account, f"private-{event.user_id}")):
        await reply_sender.send_parts(bot, reply)
        # Her line in the group says the message is there: not before its last part (a
        # lost connection's rest goes out when the account is back, or is dropped).
        await reply.finished()
    if reply.sent < len(parts):  # ActionFailed (temporary sessions refused), or cut off
        log.info(
            "QQ: /atri memory for %s not sent privately (%d of %d parts sent)",
            event.user_id,
            reply.sent,
            len(parts),
        )
        if not reply.sent:
            return lines().memory_not_sent
    return lines().memory_sent_privately


def error_line() -> str:
    """Her error line as the worker's chats say it: a worker reached over HTTP has learned
    it in the worker's language and character (`bot.relay.speak_as_the_worker`; a line of
    the project's own, `ATRI_ERROR_REPLY`, stays); an in-process one speaks this config's."""
    try:
        worker: object = current_worker()
    except NoWorker:
        worker = None
    return error_line_of(worker, config.atri_error_reply)


def _action(words: list[str]) -> str:
    """The command's action ("reset", …) from its first word, in any language known."""
    return commands.action_of(words[0]) if words else ""


async def command_reply(bot: Bot, event: MessageEvent, args: Message) -> CommandResult:
    """The answer to `/atri …` (`config.atri_command_name`); failures become ATRI's error
    line."""
    words = command_words(args)
    action = _action(words)
    try:
        if action == "reset":
            return await _reset(bot, event, args, words[1:])
        if action == "memory":
            return CommandResult(await _memory(bot, event))
        if action == "forget":
            return await _forget(bot, event, args, words[1:])
        if action == "status":
            return CommandResult(await _status(bot, event))
        if action == "mode":
            return await _set_mode(bot, event, words[1:])
        if action == "reload":
            named = words[1] if len(words) > 1 else ""
            actor = await _actor(bot, event, SUPERUSER)
            return await commands.reload(current_worker(), actor, named)
        if action == "rollback":
            actor = await _actor(bot, event, SUPERUSER)
            return await commands.rollback(current_worker(), actor)
    except WorkerUnreachable as exc:  # its sentence says it all: no traceback per command
        log.warning("QQ command /%s %s failed: %s", config.atri_command_name, action, exc)
        return CommandResult(error_line(), ok=False)
    except Exception:
        log.exception("QQ command /%s %s failed", config.atri_command_name, action)
        return CommandResult(error_line(), ok=False)
    return _usage()


def _usage() -> CommandResult:
    return CommandResult(lines().qq_usage, ok=False)


person = Rule(_from_a_person)


@event_preprocessor
async def _unfetched_quote(bot: Bot, event: MessageEvent) -> None:
    """Before any matcher: a quote the adapter could not resolve no longer hides a
    command, and a quote of her (her @ after it) still reaches her. A message that
    begins with her name, in any width (`read_her_name`), is for her, unless the name
    only began a longer word ("アトリエ", "ATRIUM"); her command is one in any width too."""
    me = str(bot.self_id)
    quoted_her = drop_unfetched_quote(event.message, me)
    if quoted_her:
        event.to_me = True
    called = read_her_name(event, bot.config.nickname)
    if called == "longer word" and isinstance(event, GroupMessageEvent):
        replied = event.reply is not None and str(event.reply.sender.user_id) == me
        event.to_me = quoted_her or replied or at_her_in(event.original_message, me)
    elif called is not None:
        event.to_me = True
    _command_name_as_set(bot, event)


def _command_name_as_set(bot: Bot, event: MessageEvent) -> None:
    """`/ATRI help`, `／ａｔｒｉ　ヘルプ` (an input method's full width): the command's name
    in any width and case, written as `[bot] command_name` sets it, which alone NoneBot
    finds."""
    first = event.message[0] if event.message else None
    text = first.data.get("text") if first is not None and first.type == "text" else None
    if not isinstance(text, str):
        return
    typed = text.lstrip()
    name = config.atri_command_name
    for start in sorted(bot.config.command_start, key=len, reverse=True):
        if typed.startswith(start):
            rest = typed[len(start) :]
            word = rest.split(maxsplit=1)[0] if rest[:1].strip() else ""
            if word != name and commands.folded(word) == commands.folded(name):
                event.message[0].data["text"] = start + name + rest[len(word) :]
            return


@event_preprocessor
async def _note_group_admins(event: GroupMessageEvent) -> None:
    """Before any matcher, for every group message: its sender's role there."""
    if not is_anonymous(event):
        group_admins.seen(str(event.group_id), str(event.user_id), event.sender.role)


atri_command = on_command(
    config.atri_command_name, rule=person, priority=10, block=True, force_whitespace=True
)
reset_words = on_message(rule=person & Rule(_reset_keyword), priority=10, block=True)
chat = on_message(rule=person & Rule(_addressed), priority=50, block=True)
room = on_message(rule=person & Rule(_overheard), priority=60, block=True)


async def answer_command(bot: Bot, event: MessageEvent, args: Message) -> None:
    """The command runs whatever the cap says (an admin can still turn her off in a
    flood); its answer is a reply like any other, so a burst of commands is not answered
    past `max_replies_per_minute` (each would hold the account's send queue), except
    the answer of one that changed something. In a
    group, one of her accounts runs it, as one answers a message: not a reset twice.
    A group turned off is silent to its members' commands too; its admins' still run,
    so they can turn her back on."""
    if isinstance(event, GroupMessageEvent):
        if not await first_to_take(bot, event):
            return  # another of ATRI's accounts runs it
        off = await channel_modes().mode(str(event.group_id)) == "off"
        if off and not await ADMINS(bot, event):
            log.debug("QQ: a member's command in group %s, which is off", event.group_id)
            return
    # `/atri memory` in a group sends its answer privately while it runs, up to
    # `max_reply_parts` messages: counted before, or a member repeating it sent them past
    # every cap and held the account's send queue (shared by all its groups) for minutes.
    counted = _answers_privately(event, args)
    if counted and not await _reply_allowed(bot, event):
        return
    result = await command_reply(bot, event, args)
    if not counted and not await _reply_allowed(bot, event, result):
        return
    await reply_sender.send_reply(bot, event, result.text)


def _answers_privately(event: MessageEvent, args: Message) -> bool:
    action = _action(command_words(args))
    return isinstance(event, GroupMessageEvent) and action == "memory"


async def _reply_allowed(
    bot: Bot, event: MessageEvent, result: CommandResult | None = None
) -> bool:
    """Whether a command's answer may be sent; past their share, the member is told so.

    The confirmation of a command that changed something (`result.changed`: a reset or
    `forget confirm` that archived or deleted messages, a new mode set, a version switched)
    goes out past the cap: told only "come back later", the member took a permanent
    deletion for one not done. It is one short line, and a repeat of it changes nothing
    (0 messages, the mode already set), so a flood of them still meets the cap."""
    if count_reply(event, "command not answered") is not None:
        return True
    if result is not None and result.changed:
        log.info("QQ: %s's command changed something; its answer goes out", event.user_id)
        return True
    await tell_share_used_up(bot, event)
    return False


@atri_command.handle()
async def _on_atri_command(bot: Bot, event: MessageEvent, args: Message = CommandArg()) -> None:
    await answer_command(bot, event, args)


@reset_words.handle()
async def _on_reset_words(bot: Bot, event: MessageEvent) -> None:
    await answer_command(bot, event, Message("reset"))


@chat.handle()
async def _on_chat(bot: Bot, event: MessageEvent) -> None:
    await answer(bot, event)


@room.handle()
async def _on_room(bot: Bot, event: GroupMessageEvent) -> None:
    await hear(bot, event)


async def _poked_her(event: Event) -> bool:
    """A poke (戳一戳) of this account (not of someone else in the group), with
    `answer_pokes` on, by a person allowed to talk to her there (not a bot)."""
    if not config.atri_answer_pokes or not isinstance(event, PokeNotifyEvent):
        return False
    if not event.is_tome() or is_bot(event.user_id):
        return False
    return is_permitted(str(event.user_id), chat_group(event))


async def _a_poke_message(event: MessageEvent) -> bool:
    """A message that is only a poke of this account (`poke_of`): a poke, not a picture."""
    return poke_of(event.message, str(event.self_id))


poke = on_notice(rule=Rule(_poked_her), priority=10, block=False)
# Before the chat matcher, which would answer a poke segment alone with her picture line.
poke_message = on_message(rule=person & Rule(_a_poke_message), priority=10, block=True)


async def answer_poke(bot: Bot, event: Answered) -> None:
    """A poke of her (its notice, or a message that is only a poke of her) is a message
    saying so (`poke_note`, in the language she speaks), said to her: answered, and
    remembered, as a message is. Not in a group turned off, nor in private when
    `reply_in_private` is off; once per person per `poke_cooldown_seconds`, and once
    for a poke posted both as a notice and as a message (`POKE_ECHO_SECONDS`), under
    the same reply cap and worker limits as a message."""
    group = chat_group(event)
    if group:
        if await channel_modes().mode(group) == "off":
            return
        if quiet_groups.quiet(str(bot.self_id), group):
            return
    elif not config.atri_reply_in_private:
        return
    user = str(event.user_id)
    if not poke_echoes.should_tell(f"{bot.self_id}:{group}:{user}"):
        log.debug("QQ: %s's poke came as a notice and as a message; answered once", user)
        return
    if not poke_cooldown.should_tell(user):
        log.debug("QQ: %s poked again within the cooldown; not answered", user)
        return
    counted = count_reply(event)
    if counted is None:
        return
    await chat_and_reply(bot, event, await _poke_request(bot, event), counted)


async def _poke_request(bot: Bot, event: Answered) -> ChatRequest:
    """Her poke note as the poker's message. A poke message is named by its id (a recall
    archives it, as a message's), its sender by the name the message carries."""
    if isinstance(event, MessageEvent):
        return chat_request(event, text=lines().poke_note)
    user = str(event.user_id)
    name = await member_name(bot, event.group_id, user, connections) if event.group_id else ""
    return ChatRequest(
        platform=PLATFORM,
        user_id=user,
        text=lines().poke_note,
        # The lookup's fallback is the QQ number: no name, as a message without one has.
        display_name="" if name == user else name,
        channel_id=chat_group(event),
        addressed=True,
        # No message id: her exchange is still found by this one (a reply cut short).
        request_id=f"qq-poke-{user}-{time.time_ns()}",
        sent_at=float(event.time),
    )


@poke.handle()
async def _on_poke(bot: Bot, event: PokeNotifyEvent) -> None:
    await answer_poke(bot, event)


@poke_message.handle()
async def _on_poke_message(bot: Bot, event: MessageEvent) -> None:
    """Silent with `answer_pokes` off, as a poke notice is; in a group, one of her
    accounts answers it."""
    if not config.atri_answer_pokes:
        return
    if isinstance(event, GroupMessageEvent) and not await first_to_take(bot, event):
        return
    await answer_poke(bot, event)


recall = on_notice(priority=10, block=False)


async def _unsay(account: str, message_id: str) -> None:
    """A part of her reply recalled (by a group admin): memory keeps only the parts
    still there, and with none left the exchange is archived, as a reset would."""
    cut = reply_sender.posted_parts.recalled(account, message_id)
    if cut is not None:
        async with telling_worker(f"forget ATRI's recalled QQ message {message_id}", log):
            await current_worker().cut_reply(cut)


@recall.handle()
async def _on_recall(event: GroupRecallNoticeEvent | FriendRecallNoticeEvent) -> None:
    """A recalled message: her exchange about it (she answered it) or its room line (she
    only heard it) is archived, as a reset would, and what is still to be posted of her
    reply to it, or of a reply repeating it, is not (`ReplySender.recalls`). `user_id` is
    the sender's (OneBot v11), `operator_id` whoever recalled it (an admin, say)."""
    channel = str(event.group_id) if isinstance(event, GroupRecallNoticeEvent) else ""
    if str(event.user_id) == str(event.self_id):
        await _unsay(str(event.self_id), str(event.message_id))
        return
    reply_sender.recalls.recalled(conversation(channel, event.user_id), str(event.message_id))
    ref = MessageRef(
        platform=PLATFORM,
        user_id=str(event.user_id),
        channel_id=channel,
        request_id=f"qq-{event.message_id}",
    )
    async with telling_worker(f"forget recalled QQ message {event.message_id}", log):
        await current_worker().forget_message(ref)


member_left = on_notice(priority=10, block=False)


@member_left.handle()
async def _on_member_left(event: GroupDecreaseNoticeEvent) -> None:
    """A member left the group or was removed (退群, 被踢): what they said there is
    archived as an admin's reset of them there does (`here_only`): their room lines, so
    the group's later prompts no longer quote someone no longer in it (for up to `[room]
    max_age_hours`), and under `user_in_channel` their conversation there. What they said
    to her elsewhere stays. Her own leaving (`kick_me`) archives nothing."""
    if str(event.user_id) == str(event.self_id):
        return
    scope = ScopeRef(
        platform=PLATFORM,
        user_id=str(event.user_id),
        channel_id=str(event.group_id),
        here_only=True,
    )
    left = f"forget what QQ user {event.user_id} said in group {event.group_id}, which they left"
    async with telling_worker(left, log):
        await current_worker().reset(scope)


ban = on_notice(priority=10, block=False)


@ban.handle()
async def _on_ban(bot: Bot, event: GroupBanNoticeEvent) -> None:
    await mute_watch.noticed(bot, event)


admin_change = on_notice(priority=10, block=False)


@admin_change.handle()
async def _on_admin_change(event: GroupAdminNoticeEvent) -> None:
    """A member made an admin, or no longer one (the owner's choice, 设置管理员)."""
    role = "admin" if event.sub_type == "set" else "member"
    group_admins.seen(str(event.group_id), str(event.user_id), role)


@get_driver().on_bot_connect
async def _on_connect_recheck_mutes(bot: Bot) -> None:
    """Mutes and bans begun or lifted while the account was away (`MuteWatch.recheck`)."""
    await hook_tasks.run(mute_watch.recheck(bot), name="atri-qq-mutes")

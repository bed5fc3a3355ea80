"""How her replies go out to QQ: split into parts, each sent in its account's turn, and
memory corrected when not all of a reply is read.

- A reply quotes the message it answers and @s its sender in its first part only, so
  two replies in one chat go out one after the other, never interleaved.
- Every send of an account waits its turn in the account's send queue (`sending.py`);
  once the plugin is stopping, none waits any more.
- A connection lost between parts keeps the rest for the account's return
  (`resend.py`); a refused send ends the reply, and memory keeps only what was sent.
- Sends refused in a group, or a group muted whole, make it quiet for the account
  (`quiet_groups.py`); the first refused send of a run asks whether the whole group is
  muted (`mute_watch.py`).

The plugin (`bot.qq.atri`) holds the one `ReplySender` and registers the NoneBot hooks
that drive it: the resend at an account's connect, the stop at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nonebot import get_bots, get_driver
from nonebot.adapters.onebot.v11 import (
    ActionFailed,
    Bot,
    GroupMessageEvent,
    MessageEvent,
    NetworkError,
    PokeNotifyEvent,
)

from bot.limits import OneReplyAtATime
from bot.qq import current_worker, reports
from bot.qq.config import Config
from bot.qq.connections import Connections
from bot.qq.mute_watch import MuteWatch
from bot.qq.quiet_groups import QUIET_SECONDS, QuietGroups
from bot.qq.resend import CutReply, PostedParts, WaitingReplies
from bot.qq.sending import (
    SendQueue,
    Stopped,
    is_retryable,
    refusal_text,
    send_answer_seconds,
)
from bot.qq.text import split_reply, text_message
from model.protocol import ChatRequest, MemoryUnavailable, ReplyCut

log = logging.getLogger(__name__)

# What she answers: a message, or a poke (戳一戳) of her.
Answered = MessageEvent | PokeNotifyEvent


def chat_group(event: Answered) -> str:
    """The group it was said (or poked) in; "" in a private chat (a temporary session's
    group is not its chat)."""
    if isinstance(event, GroupMessageEvent | PokeNotifyEvent) and event.group_id:
        return str(event.group_id)
    return ""


def temp_session_group(event: MessageEvent) -> int | None:
    """The group a temporary session (a private message from a group member who is not a
    friend, `sub_type` "group") came through. A reply names it: go-cqhttp opens the
    session from it when its own cache of sessions is gone (a restart), and NapCat uses
    it before its cache. NapCat and LLOneBot report it as `group_id`, go-cqhttp as
    `sender.group_id`; `temp_source` is not it (go-cqhttp's is the kind of session).
    NapCat's stand-in for a group it could not find (NAPCAT_NO_GROUP) names none; the
    report models drop it (see reports.py), so NoneBot does not send it back either."""
    if isinstance(event, GroupMessageEvent) or event.sub_type != "group":
        return None
    for value in (getattr(event, "group_id", None), getattr(event.sender, "group_id", None)):
        group = int(value) if isinstance(value, int | str) and str(value).isdigit() else 0
        if group > 0 and str(group) != reports.NAPCAT_NO_GROUP:
            return group
    return None


class ReplySender:
    """Everything the plugin sends as her reply, and what that needs to remember: the
    accounts' send queues, the cut replies waiting for their account, her parts that went
    out. `connections` and `mute_watch` are the plugin's own; the groups quiet for an
    account are the watch's (`mute_watch.quiet_groups`), which asks at the first refused
    send of a run in a group, before it is counted, whether the whole group is muted."""

    def __init__(self, config: Config, connections: Connections, mute_watch: MuteWatch) -> None:
        self.config = config
        self.connections = connections
        self.mute_watch = mute_watch
        # Set at shutdown: no send waits for its turn any more (see sending.py).
        self.stopping = asyncio.Event()
        self.send_queues: dict[str, SendQueue] = {}
        # Dropped past its deadline or at shutdown, a waiting reply is given up as a
        # refused one is: what it answered is not lost with it.
        self.waiting_replies = WaitingReplies(config.atri_resend_within_seconds, self._given_up)
        # Her sent parts, so that one an admin recalls leaves her memory.
        self.posted_parts = PostedParts()
        # Only a reply's first part quotes the message it answers, so two replies' parts
        # must not interleave in a group or private chat.
        self.one_reply_at_a_time = OneReplyAtATime()

    @property
    def quiet_groups(self) -> QuietGroups:
        return self.mute_watch.quiet_groups

    async def send_reply(
        self,
        bot: Bot,
        event: Answered,
        text: str,
        stored: ReplyCut | None = None,
        heard: ChatRequest | None = None,
    ) -> None:
        """Quote the message and @ the sender, then the rest with pauses (QQ risk control).
        `stored`: the exchange memory holds for it, corrected if not all of it goes out;
        `heard`: the message as a room line, kept when the group takes none of the reply.
        A poke has no message to quote: in a group the poker is @'d, in private it is a
        private message to them."""
        config = self.config
        parts, cut_off = split_reply(
            text, config.atri_max_message_chars, config.atri_max_reply_parts
        )
        private_poke = isinstance(event, PokeNotifyEvent) and not chat_group(event)
        reply = CutReply(
            str(bot.self_id),
            event,
            parts,
            0,
            stored,
            heard,
            privately=private_poke,
            cut_off=cut_off,
        )
        async with self._conversation_turn(str(bot.self_id), event):
            await self.send_parts(bot, reply)
            # The conversation is the reply's until it is over: the rest of one cut by a
            # lost connection goes out before the next reply's first part, which would
            # otherwise go first whenever it waits in the send queue as the account comes
            # back.
            await reply.finished()
            if reply.cut_off and reply.sent == len(reply.parts):
                await self._store_only_sent(reply)  # one cut short sooner was corrected then

    def _conversation_turn(self, account: str, event: Answered) -> asyncio.Lock:
        return self.one_reply_at_a_time.turn(
            (account, chat_group(event) or f"private-{event.user_id}")
        )

    async def send_parts(self, bot: Bot, reply: CutReply) -> bool:
        """The reply's parts from `reply.sent` on. A lost connection keeps the rest for the
        account's return; a refused send ends the reply (memory keeps what was sent).
        False when a send was refused, True when every part went out or the rest waits;
        `reply.finished()` waits for the rest."""
        for index in range(reply.sent, len(reply.parts)):
            if self._muted_whole(reply):
                await self._given_up(reply)
                return False
            try:
                if index:
                    # Counted, like the queue's gap, from the previous part's confirmed
                    # send: the parts are the larger of the two apart, not their sum.
                    # Outside the queue's turn, so the account's other replies may send
                    # meanwhile.
                    await self.send_queue(reply.account).pause(self.config.atri_split_pause_seconds)
                now = get_bots().get(reply.account)
                if isinstance(now, Bot):
                    # The account's connection now: a reply begun on one that dropped
                    # (whose rest waited, or whose next reply waited for it) goes on on
                    # the new one.
                    bot = now
                await self._send_in_turn(bot, reply, index)
            except Stopped:
                # Shutting down: the rest is given up as a reply waiting for its account
                # is then (`_given_up`: memory keeps what was sent, or the message as a
                # room line).
                log.info(
                    "QQ stopping: %d part(s) of a reply by account %s not sent",
                    len(reply.unsent()),
                    reply.account,
                )
                await self._given_up(reply)
                return False
            except Exception as exc:  # ActionFailed, NetworkError: nothing left to tell anyone
                return await self._after_failed_send(bot, reply, exc)
            reply.sent = index + 1
            if not reply.privately and chat_group(reply.event):
                self.quiet_groups.sent(reply.account, chat_group(reply.event))
        reply.finish()
        return True

    def _muted_whole(self, reply: CutReply) -> bool:
        """The reply's group is muted whole for its account: its parts not yet sent are
        dropped (said once, at INFO), not sent to be refused one by one."""
        group = None if reply.privately else chat_group(reply.event)
        if not group or not self.quiet_groups.is_muted_whole(reply.account, group):
            return False
        log.info(
            "QQ: group %s is muted whole: %d part(s) of a reply to %s not sent",
            group,
            len(reply.parts) - reply.sent,
            reply.event.user_id,
        )
        return True

    async def _after_failed_send(self, bot: Bot, reply: CutReply, exc: Exception) -> bool:
        now = get_bots().get(reply.account)
        if now is bot and not self.connections.lost(bot).is_set():
            # Refused, or never answered on a connection that stayed up: parked for the
            # account's return it would wait for one that never leaves, and hold up the
            # chat's next reply.
            _log_refusal(reply, exc)
            group = None if reply.privately else chat_group(reply.event)
            if group and isinstance(exc, ActionFailed):
                await self._refused_in(bot, group)
            await self._given_up(reply)
            return False
        log.warning("QQ send to %s cut off: %s", _send_target(reply), exc)
        if isinstance(now, Bot) and now is not bot:  # back already, on a new connection
            return await self.send_parts(now, reply)
        self.waiting_replies.keep(reply)
        return True

    async def _refused_in(self, bot: Bot, group: str) -> None:
        """A send refused in `group`: the first of a run asks why (`first_refusal`); a
        whole mute or a ban on her found quiets the group for its length, and the
        refusal is not counted. Else two in a row quiet it for a while."""
        account = str(bot.self_id)
        if not self.quiet_groups.refusals(account, group) and await self.mute_watch.first_refusal(
            bot, group
        ):
            return
        if self.quiet_groups.refused(account, group):
            log.warning(
                "QQ: group %s refused account %s's last sends; she does not answer there "
                "for %g minutes, or until a ban on her is lifted",
                group,
                account,
                QUIET_SECONDS / 60,
            )

    async def _given_up(self, reply: CutReply) -> None:
        """None of the rest of the reply goes out: a send refused, the group muted whole,
        the account not back within `resend_within_seconds`, or the plugin stopping. Her
        memory keeps only what was sent (nothing sent: her reply is archived, hidden from
        the model as a reset hides it), and where nothing was, the message it answered is
        kept as a room line (`reply.heard`), as one said to her in a group known to be
        quiet is, or else in her memory, unanswered (`ReplyCut.keep_message`, a private
        chat): what was said to her is not lost with her reply."""
        corrected = await self._store_only_sent(reply)
        if corrected and reply.heard is not None and not reply.sent:
            try:
                await current_worker().chat(reply.heard)
            except Exception as exc:
                log.debug("QQ room line from %s not kept: %s", reply.event.user_id, exc)
        reply.finish()

    async def _store_only_sent(self, reply: CutReply) -> bool:
        """Memory corrected to what was sent of the reply; False when it could not be."""
        if reply.stored is not None and (reply.sent < len(reply.parts) or reply.cut_off):
            cut = reply.stored.model_copy(update={"sent": reply.sent_text()})
            try:
                await current_worker().cut_reply(cut)
            except MemoryUnavailable:
                return False  # the worker logged its database failing, once a while
            except Exception:
                log.exception("QQ: could not correct the memory of a reply cut short")
                return False
        return True

    async def resend(self, bot: Bot) -> None:
        """The account is back: the rest of each reply cut while it was away."""
        replies = self.waiting_replies.take(str(bot.self_id))
        for index, reply in enumerate(replies):
            log.info("QQ account %s is back: sending the rest of a cut reply", bot.self_id)
            try:
                await self.send_parts(bot, reply)
            except asyncio.CancelledError:  # shutdown: dropped with the replies still waiting
                for rest in replies[index:]:
                    self.waiting_replies.keep(rest)
                raise

    def send_queue(self, account: str) -> SendQueue:
        """The account's pacing of everything it sends (QQ risk control counts them all)."""
        queue = self.send_queues.get(account)
        if queue is None:
            config = self.config
            queue = SendQueue(
                config.atri_send_gap_seconds, config.atri_sends_per_minute, self.stopping
            )
            self.send_queues[account] = queue
        return queue

    async def _send_in_turn(self, bot: Bot, reply: CutReply, index: int) -> None:
        """Part `index` of the reply, through the account's send queue; a risk-control
        refusal is tried once more."""
        queue = self.send_queue(str(bot.self_id))
        try:
            async with queue.turn():
                await self._send_part(bot, reply, index)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            log.info(
                "QQ send to %s refused (%s); trying again in %s s",
                _send_target(reply),
                refusal_text(exc),
                self.config.atri_send_retry_seconds,
            )
            await queue.pause(self.config.atri_send_retry_seconds)
            async with queue.turn():
                await self._send_part(bot, reply, index)

    async def _send_part(self, bot: Bot, reply: CutReply, index: int) -> None:
        event, message = reply.event, text_message(reply.parts[index])
        if reply.privately:
            # `group_id` opens a temporary session with a member who is not a friend
            # (go-cqhttp, NapCat, Lagrange); implementations without it ignore it. A
            # private poke names none.
            params: dict[str, Any] = {"user_id": event.user_id, "message": message}
            if getattr(event, "group_id", None):
                params["group_id"] = event.group_id
            await self._answered(bot, lambda: bot.call_api("send_private_msg", **params))
            return
        first = index == 0  # only the first part quotes the message and @s its sender
        options: dict[str, Any] = {"reply_message": first, "at_sender": first}
        group = None if isinstance(event, PokeNotifyEvent) else temp_session_group(event)
        if group is not None:
            options["group_id"] = group
        # A part in flight when the connection drops is unconfirmed at once (not after
        # NoneBot's api_timeout): kept, it goes out again as soon as the account is back.
        sent = await self._answered(bot, lambda: bot.send(event, message, **options))
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        if reply.stored is not None and isinstance(message_id, int | str):
            self.posted_parts.add(reply, index, str(message_id))

    async def _answered(self, bot: Bot, call: Callable[[], Awaitable[Any]]) -> Any:
        """A send's answer, waited for `send_answer_seconds` at most: the account's send
        queue is held until it comes. NetworkError when none comes in time."""
        seconds = send_answer_seconds(get_driver().config.api_timeout)
        try:
            return await asyncio.wait_for(self.connections.call(bot, call), seconds)
        except TimeoutError:
            raise NetworkError(f"no answer to a send within {seconds:g} s") from None


def _send_target(reply: CutReply) -> str:
    event = reply.event
    group = None if reply.privately else chat_group(event)
    return f"group {group}" if group else f"private chat with {event.user_id}"


def _refusal_hint(reply: CutReply) -> str:
    """What a refused send may mean, and what became of the reply."""
    if reply.privately or not chat_group(reply.event):
        why = "they may not be ATRI's friend (a temporary session refused), or the account "
    else:
        why = "ATRI may be muted there, removed from the group, or the account "
    why += "is under risk control (see the OneBot implementation's log)"
    if reply.sent:
        kept = f"{reply.sent} of its {len(reply.parts)} parts were sent and only those remembered"
        return f"{why}; {kept}."
    if reply.heard is not None:
        # `_given_up` keeps the message she answered as a room line.
        return (
            f"{why}; the reply was not sent and is not remembered (the message it answered "
            "is kept as a room line)."
        )
    return f"{why}; the reply was not sent and is not remembered."


def _log_refusal(reply: CutReply, exc: Exception) -> None:
    target = _send_target(reply)
    if isinstance(exc, ActionFailed):
        said = f"QQ refused a send to {target} ({refusal_text(exc)})"
    else:  # NetworkError on a connection still up: the implementation never answered
        seconds = send_answer_seconds(get_driver().config.api_timeout)
        said = (
            f"QQ send to {target}: no answer from the OneBot implementation within "
            f"{seconds:g} s; taken as refused"
        )
    log.warning("%s: %s", said, _refusal_hint(reply))

"""How her replies go out to QQ: split into parts, each sent in its account's turn, and
memory corrected when not all of a reply is read.

- A reply quotes the message it answers and @s its sender in its first part only, so
  two replies in one chat go out one after the other, never interleaved.
- Every send of an account waits its turn in the account's send queue (`sending.py`);
  once the plugin is stopping, none waits any more.
- A connection lost between parts keeps the rest for the account's return
  (`resend.py`); a refused send ends the reply, and memory keeps only what was sent.
- A send not answered within `send_answer_seconds` gives the account's send queue back
  to its other chats, and its answer is awaited a while more (`_late_answer`): a late
  confirmation keeps the reply going (NapCat under load answers slowly, yet sends), a
  connection lost meanwhile cuts it as above (a half-open socket, closed by the pings
  only later), and no answer at all ends it as a refusal does.
- Sends refused in a group, or a group muted whole, make it quiet for the account
  (`quiet_groups.py`); the first refused send of a run asks whether the whole group is
  muted (`mute_watch.py`).
- A message recalled while a reply still waits to be posted: what is left of the reply to
  it, or of one that repeats its words, is not posted (`bot.recalls`).

The plugin (`bot.qq.atri`) holds the one `ReplySender` and registers the NoneBot hooks
that drive it: the resend at an account's connect, the stop at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
    SEND_ANSWER_SECONDS,
    SendQueue,
    Stopped,
    is_retryable,
    refusal_text,
    send_answer_seconds,
)
from bot.qq.text import split_reply, text_message
from bot.recalls import Recalls, Stop
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


def chat_of(event: Answered) -> str:
    """Its conversation (`conversation`)."""
    return conversation(chat_group(event), event.user_id)


def conversation(group: str, user_id: int | str) -> str:
    """A conversation's key: the group, or ("") the private chat with `user_id`."""
    return group or f"private-{user_id}"


def message_id_of(event: Answered) -> str:
    """Its message's id; "" for a poke notice, which has none."""
    return str(getattr(event, "message_id", ""))


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
        self.waiting_replies = WaitingReplies(
            config.atri_resend_within_seconds, self._given_up, _send_target
        )
        # Her sent parts, so that one an admin recalls leaves her memory.
        self.posted_parts = PostedParts()
        # Only a reply's first part quotes the message it answers, so two replies' parts
        # must not interleave in a group or private chat.
        self.one_reply_at_a_time = OneReplyAtATime()
        # Messages recalled lately: a reply still to be posted is checked before each part.
        self.recalls = Recalls()

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
        return self.one_reply_at_a_time.turn((account, chat_of(event)))

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
                await self._send_confirmed(bot, reply, index)
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
            except Recalled as recalled:
                await self._recalled(reply, recalled.why)
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

    async def _recalled(self, reply: CutReply, why: Stop) -> None:
        """A message recalled meanwhile stops the rest of the reply (`Recalls.stops`). Her
        memory keeps what was sent; the message it answered is kept as a room line
        (`_given_up`) only when it is not the one recalled."""
        event = reply.event
        if why == "answers":
            log.info(
                "QQ: message %s in %s was recalled: %d part(s) of her reply to it not sent",
                message_id_of(event),
                _send_target(reply),
                len(reply.unsent()),
            )
            reply.heard = None
            if reply.stored is not None:  # nor is it kept unanswered (a private chat)
                reply.stored = reply.stored.model_copy(update={"keep_message": False})
        else:
            log.info(
                "QQ: %d part(s) of a reply to %s in %s not sent: they repeat a message "
                "recalled there",
                len(reply.unsent()),
                event.user_id,
                _send_target(reply),
            )
        await self._given_up(reply)

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
        rest = len(reply.unsent())
        if isinstance(now, Bot) and now is not bot:  # back already, on a new connection
            log.warning(
                "QQ send to %s cut off: account %s's connection dropped; it is back "
                "already, so the rest (%d part(s)) goes out on the new one",
                _send_target(reply),
                reply.account,
                rest,
            )
            return await self.send_parts(now, reply)
        # Said in words, not as the exception's repr (NetWorkError(message=…)), with how
        # long the rest waits: the outcome's line (bot.qq.resend) follows, unverbose too.
        log.warning(
            "QQ send to %s cut off: account %s's connection dropped; the rest (%d "
            "part(s)) waits up to %g s for it to come back",
            _send_target(reply),
            reply.account,
            rest,
            self.waiting_replies.within_seconds,
        )
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
            log.info(
                "QQ account %s is back: sending the rest of a cut reply in %s",
                bot.self_id,
                _send_target(reply),
            )
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

    async def _send_confirmed(self, bot: Bot, reply: CutReply, index: int) -> None:
        """Part `index` sent in the account's turn, and its answer come: one confirmed
        late still counts as sent. Stopped, ActionFailed or NetworkError when it is not."""
        try:
            await self._send_in_turn(bot, reply, index)
        except Unconfirmed as unconfirmed:
            # Out of the send queue now: the account's other chats go on. This chat's next
            # reply waits, as it must follow this part if the part did go out.
            log.warning(
                "QQ send to %s: not confirmed within %g s by the OneBot implementation; "
                "its answer is awaited up to %g s more",
                _send_target(reply),
                unconfirmed.seconds,
                unconfirmed.late_seconds,
            )
            sent = await self._late_answer(unconfirmed)
            log.warning(
                "QQ send to %s confirmed after %.0f s: it was sent, and her reply goes on "
                "and is remembered",
                _send_target(reply),
                time.monotonic() - unconfirmed.began,
            )
            self._posted(reply, index, sent)

    async def _late_answer(self, unconfirmed: Unconfirmed) -> Any:
        """The answer of a send past `send_answer_seconds`, within `late_seconds` more:
        NetworkError when the connection drops first (the reply is then cut, not
        refused), NoAnswer when none comes, Stopped when the plugin stops meanwhile."""
        answer = unconfirmed.answer
        stopping = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait(
                {answer, stopping},
                timeout=unconfirmed.late_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
            if not answer.done():
                answer.cancel()
        if answer.done() and not answer.cancelled():
            # The answer, or how it failed: refused (ActionFailed), the connection lost,
            # or NoneBot's api_timeout on one still up (no answer).
            try:
                return answer.result()
            except NetworkError:
                if not self.connections.lost(unconfirmed.bot).is_set():
                    raise NoAnswer(unconfirmed.seconds + unconfirmed.late_seconds) from None
                raise
        if self.stopping.is_set():
            raise Stopped
        raise NoAnswer(unconfirmed.seconds + unconfirmed.late_seconds)

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
        """Part `index`, in the account's turn; Recalled, unsent, when a message recalled
        since stops the rest of the reply (asked here, as late as can be: the turn may
        have been long in coming)."""
        why = self.recalls.stops(
            chat_of(reply.event), message_id_of(reply.event), "".join(reply.unsent())
        )
        if why is not None:
            raise Recalled(why)
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
        self._posted(reply, index, sent)

    def _posted(self, reply: CutReply, index: int, sent: Any) -> None:
        """Part `index` of a stored reply in a chat went out as the message `sent` names:
        remembered, so that its recall leaves her memory too."""
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        if reply.stored is not None and isinstance(message_id, int | str):
            self.posted_parts.add(reply, index, str(message_id))

    async def _answered(self, bot: Bot, call: Callable[[], Awaitable[Any]]) -> Any:
        """A send's answer, waited for `send_answer_seconds` at most: the account's send
        queue is held until it comes. Unconfirmed when none has come by then and NoneBot
        still waits for it (its `api_timeout` is longer); else NoAnswer."""
        api_timeout = get_driver().config.api_timeout
        seconds = send_answer_seconds(api_timeout)
        began = time.monotonic()
        answer = asyncio.ensure_future(self.connections.call(bot, call))
        try:
            await asyncio.wait({answer}, timeout=seconds)
        except BaseException:
            answer.cancel()
            raise
        if answer.done():
            return answer.result()
        late_seconds = _late_answer_seconds(api_timeout)
        if late_seconds <= 0:
            answer.cancel()
            raise NoAnswer(seconds)
        raise Unconfirmed(bot, answer, began, seconds, late_seconds)


class Recalled(Exception):
    """A part not sent: a message recalled since stops the rest of its reply (`why`)."""

    def __init__(self, why: Stop) -> None:
        super().__init__(why)
        self.why = why


class NoAnswer(NetworkError):
    """A send the OneBot implementation never answered, on a connection that stayed up:
    taken as refused, though it may have gone out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer to a send within {seconds:g} s")
        self.seconds = seconds


class Unconfirmed(NetworkError):
    """A send not answered within `seconds`, whose `answer` may still come within
    `late_seconds` more (or fail, as its connection drops)."""

    def __init__(
        self, bot: Bot, answer: asyncio.Future[Any], began: float, seconds: float, late: float
    ) -> None:
        super().__init__(f"no answer to a send within {seconds:g} s yet")
        self.bot = bot
        self.answer = answer
        self.began = began
        self.seconds = seconds
        self.late_seconds = late


def _late_answer_seconds(api_timeout: float | None) -> float:
    """How much longer than `send_answer_seconds` a send's answer is awaited, out of the
    account's send queue: until NoneBot's `api_timeout` (past it NoneBot drops the
    answer), at most SEND_ANSWER_SECONDS more (the chat's next reply waits meanwhile)."""
    first = send_answer_seconds(api_timeout)
    last = first + SEND_ANSWER_SECONDS
    if api_timeout is not None and api_timeout > 0:
        last = min(last, api_timeout)
    return max(last - first, 0.0)


def _send_target(reply: CutReply) -> str:
    event = reply.event
    group = None if reply.privately else chat_group(event)
    return f"group {group}" if group else f"private chat with {event.user_id}"


def _refusal_hint(reply: CutReply, confirmed: bool = True) -> str:
    """What a refused send may mean, and what became of the reply; not `confirmed`: the
    implementation never answered, so the reply may have gone out all the same."""
    if reply.privately or not chat_group(reply.event):
        why = "they may not be ATRI's friend (a temporary session refused), or the account "
    else:
        why = "ATRI may be muted there, removed from the group, or the account "
    why += "is under risk control (see the OneBot implementation's log)"
    if reply.sent:
        kept = f"{reply.sent} of its {len(reply.parts)} parts were sent and only those remembered"
        return f"{why}; {kept}."
    fate = "was not sent" if confirmed else "is taken as not sent"
    if reply.heard is not None:
        # `_given_up` keeps the message she answered as a room line.
        return (
            f"{why}; the reply {fate} and is not remembered (the message it answered "
            "is kept as a room line)."
        )
    return f"{why}; the reply {fate} and is not remembered."


def _log_refusal(reply: CutReply, exc: Exception) -> None:
    target = _send_target(reply)
    if isinstance(exc, ActionFailed):
        log.warning(
            "QQ refused a send to %s (%s): %s", target, refusal_text(exc), _refusal_hint(reply)
        )
        return
    # NetworkError on a connection still up: the implementation never answered.
    if isinstance(exc, NoAnswer):
        seconds = exc.seconds
    else:  # NoneBot's own api_timeout, no longer than ours
        seconds = send_answer_seconds(get_driver().config.api_timeout)
    log.warning(
        "QQ send to %s: not confirmed by the OneBot implementation within %g s; taken as "
        "refused: %s",
        target,
        seconds,
        _refusal_hint(reply, confirmed=False),
    )

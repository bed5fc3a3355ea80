"""A reply cut by a lost connection: its unsent parts wait for the account to come back.

The WebSocket to NapCat drops now and then (NapCat restarts, the network blinks). When
it drops between the parts of a reply, the parts not yet sent wait here; when the same
account connects again within `[qq] resend_within_seconds`, they go out on the new
connection. Past that, or when the plugin stops, they are dropped as a refused send's
are (`ReplySender._given_up`): memory is told what was sent (`Worker.cut_reply`), so she
never remembers saying what nobody read, and where nothing was, the message she answered
stays a room line (in a group), or in her memory unanswered (in a private chat).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from model.protocol import ChatRequest, ReplyCut

log = logging.getLogger(__name__)


@dataclass
class CutReply:
    """A reply whose parts from `sent` on did not go out."""

    account: str
    event: Any  # the MessageEvent it answers
    parts: list[str]
    sent: int
    # The stored exchange to correct if the rest never goes out; None: nothing stored.
    stored: ReplyCut | None = None
    # The message it answers as a room line (not addressed, no speak-up), heard when none
    # of the reply goes out in its group (refused, or dropped with a lost connection or
    # at shutdown): None where no room line is kept.
    heard: ChatRequest | None = None
    # To the event's sender in a private chat (what `/atri memory` asked in a group
    # sends), not as a reply in the event's chat.
    privately: bool = False
    # Cut at `max_reply_parts`: even with every part out, memory keeps only what was sent.
    cut_off: bool = False
    # Parts sent and then recalled (a group admin took them back): not hers to remember.
    recalled: set[int] = field(default_factory=set)
    _expiry: asyncio.Task[None] | None = field(default=None, repr=False)
    # Set once it is over: every part sent, a send refused, or the rest dropped.
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def finish(self) -> None:
        self._finished.set()

    async def finished(self) -> None:
        """Until it is over: the rest of a cut reply waits for its account's return."""
        await self._finished.wait()

    def sent_text(self) -> str:
        """What people read of it: the parts that went out and stayed, one per line."""
        return "\n".join(
            part for index, part in enumerate(self.parts[: self.sent]) if index not in self.recalled
        )

    def unsent(self) -> list[str]:
        return self.parts[self.sent :]


# Parts of her stored replies remembered by message id (see PostedParts).
POSTED_KEPT = 2000


class PostedParts:
    """The parts of her stored replies that went out, by account and message id: a part a
    group admin recalls (she was talked into something) leaves her memory too, where
    she would otherwise go on from it. The last `POSTED_KEPT`, none from before a
    restart."""

    def __init__(self, kept: int = POSTED_KEPT) -> None:
        self.kept = kept
        self._parts: OrderedDict[tuple[str, str], tuple[CutReply, int]] = OrderedDict()

    def add(self, reply: CutReply, index: int, message_id: str) -> None:
        self._parts[(reply.account, message_id)] = (reply, index)
        while len(self._parts) > self.kept:
            self._parts.popitem(last=False)

    def recalled(self, account: str, message_id: str) -> ReplyCut | None:
        """The exchange to correct, `sent` what is left of its reply ("" when nothing
        is: then it is archived); None when the message was no part of hers."""
        found = self._parts.pop((account, message_id), None)
        if found is None:
            return None
        reply, index = found
        reply.recalled.add(index)
        if reply.stored is None:
            return None
        # Taken back by someone: with nothing left, the exchange goes whole, as a reset.
        return reply.stored.model_copy(update={"sent": reply.sent_text(), "keep_message": False})


class WaitingReplies:
    """Cut replies per account, each until its account reconnects or its time is up."""

    def __init__(
        self,
        within_seconds: float,
        on_expired: Callable[[CutReply], Awaitable[object]],
        where: Callable[[CutReply], str] = lambda cut: "a chat",
    ) -> None:
        """`where`: the chat a reply was cut in, as the log names it ("group 300")."""
        self.within_seconds = within_seconds
        self.on_expired = on_expired
        self.where = where
        self._waiting: dict[str, list[CutReply]] = {}

    def __len__(self) -> int:
        return sum(len(replies) for replies in self._waiting.values())

    def keep(self, cut: CutReply) -> None:
        self._waiting.setdefault(cut.account, []).append(cut)
        cut._expiry = asyncio.create_task(self._expire(cut), name="atri-qq-cut-reply")

    def take(self, account: str) -> list[CutReply]:
        """The account is back: its cut replies, oldest first, to send now."""
        replies = self._waiting.pop(account, [])
        for cut in replies:
            if cut._expiry is not None:
                cut._expiry.cancel()
        return replies

    async def drop_all(self) -> None:
        """At shutdown: every waiting reply is dropped now, as past its deadline."""
        while self._waiting:
            account, replies = self._waiting.popitem()
            for cut in replies:
                if cut._expiry is not None:
                    cut._expiry.cancel()
                log.info(
                    "QQ stopping: %d part(s) of a reply by account %s dropped",
                    len(cut.unsent()),
                    account,
                )
                await self._drop(cut)

    async def _expire(self, cut: CutReply) -> None:
        await asyncio.sleep(self.within_seconds)
        replies = self._waiting.get(cut.account, [])
        if cut not in replies:
            return
        replies.remove(cut)
        if not replies:
            del self._waiting[cut.account]
        log.info(
            "QQ account %s did not come back within %g s: %d part(s) of a reply in %s dropped",
            cut.account,
            self.within_seconds,
            len(cut.unsent()),
            self.where(cut),
        )
        await self._drop(cut)

    async def _drop(self, cut: CutReply) -> None:
        try:
            await self.on_expired(cut)
        except Exception:
            log.exception("QQ: could not correct the memory of a reply cut short")
        finally:
            cut.finish()

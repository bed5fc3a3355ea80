"""A reply cut by a lost connection: its unsent parts wait for the account to come back.

The WebSocket to NapCat drops now and then (NapCat restarts, the network blinks). When
it drops between the parts of a reply, the parts not yet sent wait here; when the same
account connects again within `[qq] resend_within_seconds`, they go out on the new
connection. Past that, or when the plugin stops, they are dropped, and memory is told
what was sent (`Worker.cut_reply`): she never remembers saying what nobody read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from model.protocol import ReplyCut

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
    # To the event's sender in a private chat (what `/atri memory` asked in a group
    # sends), not as a reply in the event's chat.
    privately: bool = False
    _expiry: asyncio.Task[None] | None = field(default=None, repr=False)
    # Set once it is over: every part sent, a send refused, or the rest dropped.
    _finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def finish(self) -> None:
        self._finished.set()

    async def finished(self) -> None:
        """Until it is over: the rest of a cut reply waits for its account's return."""
        await self._finished.wait()

    def sent_text(self) -> str:
        """What people read of it: the parts that went out, one per line."""
        return "\n".join(self.parts[: self.sent])

    def unsent(self) -> list[str]:
        return self.parts[self.sent :]


class WaitingReplies:
    """Cut replies per account, each until its account reconnects or its time is up."""

    def __init__(
        self, within_seconds: float, on_expired: Callable[[CutReply], Awaitable[None]]
    ) -> None:
        self.within_seconds = within_seconds
        self.on_expired = on_expired
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
            "QQ account %s did not come back within %s s: %d part(s) of a reply dropped",
            cut.account,
            self.within_seconds,
            len(cut.unsent()),
        )
        await self._drop(cut)

    async def _drop(self, cut: CutReply) -> None:
        try:
            await self.on_expired(cut)
        except Exception:
            log.exception("QQ: could not correct the memory of a reply cut short")
        finally:
            cut.finish()

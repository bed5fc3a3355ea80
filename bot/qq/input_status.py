"""Typing… in QQ private chats while ATRI thinks, where the OneBot implementation
offers it (NapCat's `set_input_status`).

The first call goes out as the chat starts and is repeated every `every` seconds until
the reply is ready. An account whose implementation refuses the call (go-cqhttp,
Lagrange and older NapCat answer "unknown action") is not asked again. A call the
connection's drop cuts off ends at once, not after NoneBot's `api_timeout` (30 s), and
the next goes out on the account's connection then (none while it is away).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nonebot.adapters.onebot.v11 import ActionFailed, Bot

from bot.qq.connections import Connections

log = logging.getLogger(__name__)
# NapCat's event_type for "typing" (0 would be "speaking").
TYPING = 1


@dataclass
class _Shown:
    """Typing shown to one person: the chats it is shown for, and its end."""

    chats: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class InputStatus:
    """Shows typing per account; `every` = 0 never shows it."""

    def __init__(self, every: float, connections: Connections) -> None:
        self.every = every
        self._connections = connections
        self.unsupported: set[str] = set()  # self_ids whose implementation refused it
        self._calls: set[asyncio.Task[None]] = set()
        # One typing per (account, person), however many of their messages she is
        # answering: a member sending twenty at once started twenty loops of calls.
        self._shown: dict[tuple[str, int], _Shown] = {}

    @contextlib.asynccontextmanager
    async def typing(self, bot: Bot, user_id: int) -> AsyncIterator[None]:
        """While the body runs, `user_id` sees ATRI typing in their private chat."""
        if self.every <= 0 or str(bot.self_id) in self.unsupported:
            yield
            return
        key = (str(bot.self_id), user_id)
        shown = self._shown.get(key)
        if shown is None:
            shown = self._shown[key] = _Shown()
            # In the background: a slow or silent implementation never delays the reply,
            # and a call in flight when the reply is ready still learns whether it is
            # supported.
            task = asyncio.create_task(self._keep(bot, user_id, shown.done), name="atri-qq-typing")
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        shown.chats += 1
        try:
            await asyncio.sleep(0)  # its first call goes out before the chat starts
            yield
        finally:
            shown.chats -= 1
            if not shown.chats:
                shown.done.set()
                del self._shown[key]

    async def _keep(self, bot: Bot, user_id: int, done: asyncio.Event) -> None:
        account = str(bot.self_id)
        while not done.is_set():
            # The account's connection now: typing goes on after a reconnect.
            bot = self._connections.current(account) or bot
            show = functools.partial(
                bot.call_api, "set_input_status", user_id=user_id, event_type=TYPING
            )
            try:
                await self._connections.call(bot, show)
            except ActionFailed as exc:
                self.unsupported.add(account)
                log.info("QQ %s: no typing status here (%s); not asking again", account, exc)
                return
            except Exception as exc:
                log.debug("QQ %s: typing status not shown: %s", account, exc)
                if not self._connections.lost(bot).is_set():
                    return  # no answer on a live connection: not asked again in this chat
                # A dropped connection: tried again on the account's next one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.every)

"""What the plugin does through a connection that may drop, or outlive a shutdown.

- `Connections`: a call in flight when its connection drops gets no answer, and NoneBot
  would wait `api_timeout` (30 s) before failing it; `Connections.call` gives it up as
  unconfirmed at once, so a cut reply's part goes out as soon as the account is back.
- `HookTasks`: NoneBot runs connect hooks shielded from cancellation and waits for them
  at shutdown, so a hook still sending (a resend waiting its turn in the send queue, a
  call) held the stop up; what our hooks do runs in tasks that shutdown cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from nonebot.adapters.onebot.v11 import Bot, NetworkError

T = TypeVar("T")


class Connections:
    """Whether each bot's connection is still up. `current(account)`: the account's bot
    connected now (NoneBot's `get_bots()`); each connection is a new Bot object."""

    def __init__(self, current: Callable[[str], object]) -> None:
        self._current = current
        self._lost: dict[Bot, asyncio.Event] = {}

    def current(self, account: str) -> Bot | None:
        """The account's bot connected now, if any."""
        bot = self._current(account)
        return bot if isinstance(bot, Bot) else None

    def lost(self, bot: Bot) -> asyncio.Event:
        """Set once `bot`'s connection has dropped (already set when it has)."""
        event = self._lost.get(bot)
        if event is None:
            event = asyncio.Event()
            if self._current(str(bot.self_id)) is bot:
                self._lost[bot] = event
            else:
                event.set()
        return event

    def disconnected(self, bot: Bot) -> None:
        """From NoneBot's disconnect hook."""
        event = self._lost.pop(bot, None)
        if event is not None:
            event.set()

    async def call(self, bot: Bot, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`'s answer, or NetworkError (unconfirmed) once `bot`'s connection drops;
        an answer that came with the drop still counts."""
        lost = self.lost(bot)
        if lost.is_set():
            # Not made at all: NoneBot's adapter sends by account, so through an old bot
            # of an account that is back it would go out on the new connection, and then
            # again as unconfirmed.
            raise NetworkError(f"the connection of {bot.self_id} had dropped")
        answered = asyncio.ensure_future(call())
        dropped = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({answered, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dropped.cancel()
            if not answered.done():
                answered.cancel()  # its answer would never come, or nobody waits for it
        if answered.done() and not answered.cancelled():
            return answered.result()
        raise NetworkError(f"the connection of {bot.self_id} dropped before an answer")


class HookTasks:
    """The work of the plugin's connect hooks, each in a task that `stop` cancels."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """`work` in a task of its own, until it is done or shutdown cancels it."""
        if self._stopped:  # a connection as NoneBot shuts down: nothing to start
            work.close()
            return
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.cancelled():
            task.result()  # its error, for NoneBot to log as a hook's

    async def stop(self) -> None:
        """At shutdown: cancel every hook's work and wait for it to end."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

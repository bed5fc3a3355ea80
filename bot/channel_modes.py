"""`ChannelModeCache`: the bots' view of what admins set per channel with `/atri mode`,
read from the worker, which stores them (`model.channels.ChannelModes`)."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.relay import WorkerDown
from model.protocol import ChannelMode, Worker

log = logging.getLogger(__name__)

# How long a bot trusts the channel modes it read from the worker: a change made through
# another bot process shows within this time (through this one, at once).
MODES_REFRESH_SECONDS = 30.0
# How soon a bot that has never reached its worker tries again.
MODES_RETRY_SECONDS = 5.0


class ChannelModeCache:
    """The channel modes of one platform as the worker stores them, read at most every
    `MODES_REFRESH_SECONDS`; while the worker cannot be read, the last ones known hold.

    A bot that has never reached its worker (started first, or while a big model loads)
    knows none: it keeps every channel off until it does, trying again every
    `MODES_RETRY_SECONDS`. Taking them as "mention" posted the worker's failure line in
    groups an admin had turned off, to every @ and member command (session 72 tried it
    again, for channels that are silent while the worker is down; an admin's "off" wins:
    the log says the worker cannot be reached, and a DM still gets her error line)."""

    def __init__(self, worker: Worker, platform: str) -> None:
        self.worker = worker
        self.platform = platform
        self._modes: dict[str, ChannelMode] = {}
        self._read_at = -MODES_REFRESH_SECONDS
        self._known = False  # read once at least
        self._unreachable = False  # not reached, and never read
        # Messages arriving during a read wait for it, and so stay in their order.
        self._reading = asyncio.Lock()

    async def mode(self, *channel_ids: str) -> ChannelMode:
        """The mode `chosen` for `channel_ids`, "mention" where none was (a QQ group)."""
        return await self.chosen(*channel_ids) or "mention"

    async def chosen(self, *channel_ids: str) -> ChannelMode | None:
        """The mode an admin set for the first of `channel_ids` that has one (a thread,
        then its parent); None where none was, for the caller's default (Discord's
        `[discord] channels`). "mention" set on a thread holds against its parent's mode
        and that default, as "off" and "all" do."""
        async with self._reading:
            now = time.monotonic()
            wait = MODES_RETRY_SECONDS if self._unreachable else MODES_REFRESH_SECONDS
            if now - self._read_at >= wait:
                self._read_at = now
                try:
                    self._modes = await self.worker.channel_modes(self.platform)
                    self._known, self._unreachable = True, False
                except Exception as exc:
                    log.warning("%s: channel modes could not be read: %s", self.platform, exc)
                    # Only a worker not reached: memory failing in-process still chats.
                    if isinstance(exc, WorkerDown) and not self._known:
                        self._unreachable = True
        if self._unreachable:
            return "off"
        for channel_id in channel_ids:
            if channel_id in self._modes:
                return self._modes[channel_id]
        return None

    def forget(self) -> None:
        """Read again at the next message (after a change made here)."""
        self._read_at = -MODES_REFRESH_SECONDS

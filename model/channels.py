"""What admins set per channel or group: whether ATRI speaks there, and how.

One small table in the memory database, with its own connection (WAL lets it sit beside
the memory's; the table is `model.memory.channel_table`'s, which a whole-database backup
carries): a channel an admin set, to any mode ("mention" too), is stored; one never set
is not, and follows its parent or the bot's own default. A memory that holds its file
alone (a worker started on a full disk) lets no second connection in: the modes are read
and set through the memory's then (`through`).
"""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite

from model.memory.channel_table import SCHEMA, store_mode
from model.memory.database import busy_timeout_pragma
from model.memory.store import Memory
from model.protocol import ChannelMode


class ChannelModes:
    def __init__(self, db: aiosqlite.Connection | Memory) -> None:
        self._db = db

    @classmethod
    def through(cls, memory: Memory) -> ChannelModes:
        """On `memory`'s connections (a file it holds `alone`), for good: once it shares
        the file again its reader serves these reads as well, and a connection of its own
        opened then could fail where this one cannot (no descriptor left, see `open`)."""
        return cls(memory)

    @classmethod
    async def open(cls, path: str | Path) -> ChannelModes:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            await db.execute(busy_timeout_pragma())
            await db.executescript(SCHEMA)
            await db.commit()
            # Every file the connection reads through (the -wal and -shm beside the
            # database) opened now and held till it closes: no later read opens one.
            await db.execute_fetchall("SELECT 1 FROM channel_modes LIMIT 1")
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        if not isinstance(self._db, Memory):  # the memory's connections are its own to close
            await self._db.close()

    async def modes(self, platform: str) -> dict[str, ChannelMode]:
        """Every channel of `platform` whose mode an admin set."""
        if isinstance(self._db, Memory):
            return await self._db.channel_modes(platform)
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, mode FROM channel_modes WHERE platform = ?", (platform,)
        )
        return {str(channel): mode for channel, mode in rows}

    async def set(self, platform: str, channel_id: str, mode: ChannelMode) -> None:
        if isinstance(self._db, Memory):
            await self._db.set_channel_mode(platform, channel_id, mode, time.time())
            return
        await store_mode(self._db, platform, channel_id, mode, time.time())
        await self._db.commit()

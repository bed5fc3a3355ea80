"""What admins set per channel or group: whether ATRI speaks there, and how.

One small table in the memory database (the table is `model.memory.channel_table`'s,
which a whole-database backup carries): a channel an admin set, to any mode ("mention"
too), is stored; one never set is not, and follows its parent or the bot's own default.

Two ways to reach it, behind one interface: a connection of its own (`ChannelModes.open`;
WAL lets it sit beside the memory's), or the memory's own connection
(`ChannelModes.through`) when the memory holds its file alone (a worker started on a full
disk), which lets no second connection in.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path

import aiosqlite

from model.memory.channel_table import SCHEMA, store_mode
from model.memory.database import busy_timeout_pragma
from model.memory.store import Memory
from model.protocol import ChannelMode


class ChannelModes(ABC):
    @abstractmethod
    async def modes(self, platform: str) -> dict[str, ChannelMode]:
        """Every channel of `platform` whose mode an admin set."""

    @abstractmethod
    async def set(self, platform: str, channel_id: str, mode: ChannelMode) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @staticmethod
    async def open(path: str | Path) -> ChannelModes:
        return await _OwnConnection.open(path)

    @staticmethod
    def through(memory: Memory) -> ChannelModes:
        """On `memory`'s connections (a file it holds `alone`), for good: once it shares
        the file again its reader serves these reads as well, and a connection of its own
        opened then could fail where this one cannot (no descriptor left, see `open`)."""
        return _ThroughMemory(memory)


class _OwnConnection(ChannelModes):
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str | Path) -> _OwnConnection:
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

    async def modes(self, platform: str) -> dict[str, ChannelMode]:
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, mode FROM channel_modes WHERE platform = ?", (platform,)
        )
        return {str(channel): mode for channel, mode in rows}

    async def set(self, platform: str, channel_id: str, mode: ChannelMode) -> None:
        await store_mode(self._db, platform, channel_id, mode, time.time())
        await self._db.commit()

    async def close(self) -> None:
        await self._db.close()


class _ThroughMemory(ChannelModes):
    def __init__(self, memory: Memory) -> None:
        self._memory = memory

    async def modes(self, platform: str) -> dict[str, ChannelMode]:
        return await self._memory.channel_modes(platform)

    async def set(self, platform: str, channel_id: str, mode: ChannelMode) -> None:
        await self._memory.set_channel_mode(platform, channel_id, mode, time.time())

    async def close(self) -> None:
        """Nothing: the memory's connections are its own to close."""

"""What admins set per channel or group: whether ATRI speaks there, and how.

One small table in the memory database, with its own connection (WAL lets it sit beside
the memory's): a channel not listed is "mention", so only changes are stored.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiosqlite

from model.protocol import ChannelMode

DEFAULT_MODE: ChannelMode = "mention"

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_modes (
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('off', 'mention', 'all')),
    updated_at REAL NOT NULL,
    PRIMARY KEY (platform, channel_id)
);
"""


class ChannelModes:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: str | Path) -> ChannelModes:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
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
        await self._db.close()

    async def modes(self, platform: str) -> dict[str, ChannelMode]:
        """Every channel of `platform` whose mode is not the default."""
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, mode FROM channel_modes WHERE platform = ?", (platform,)
        )
        return {str(channel): mode for channel, mode in rows}

    async def set(self, platform: str, channel_id: str, mode: ChannelMode) -> None:
        if mode == DEFAULT_MODE:
            await self._db.execute(
                "DELETE FROM channel_modes WHERE platform = ? AND channel_id = ?",
                (platform, channel_id),
            )
        else:
            await self._db.execute(
                "INSERT OR REPLACE INTO channel_modes VALUES (?, ?, ?, ?)",
                (platform, channel_id, mode, time.time()),
            )
        await self._db.commit()

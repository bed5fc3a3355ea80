"""The `channel_modes` table in the memory database (what admins set per channel, read
and written by `model.channels.ChannelModes`): its schema, and its rows as a whole-database
backup holds them (`backed_up_modes`, `restore_modes`, on the memory's own connection).
Here, beside the memory's other tables, so the backup reads it without importing the
worker's side."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

from model.memory.export_format import ExportedChannelMode
from model.memory.records import as_text, as_time
from model.protocol import ChannelMode

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_modes (
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('off', 'mention', 'all')),
    updated_at REAL NOT NULL,
    PRIMARY KEY (platform, channel_id)
);
"""
_TABLE_MADE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'channel_modes'"


async def store_mode(
    db: aiosqlite.Connection, platform: str, channel_id: str, mode: ChannelMode, at: float
) -> None:
    """Not committed. Every mode set is a row, "mention" too: a channel set to it holds
    it against its parent's mode and `[discord] channels`, which a channel never set
    follows."""
    await db.execute(
        "INSERT OR REPLACE INTO channel_modes VALUES (?, ?, ?, ?)",
        (platform, channel_id, mode, at),
    )


async def table_made(fetch: Callable[[str], Awaitable[Iterable[Any]]]) -> bool:
    """Whether the table is in the database, asked through `fetch` (a connection's
    `execute_fetchall`, or the store's reader): a file no worker set a mode in yet
    has none (it is made at the first mode set)."""
    return bool(list(await fetch(_TABLE_MADE)))


async def backed_up_modes(db: aiosqlite.Connection) -> list[dict[str, Any]]:
    """Every mode stored, as a backup holds it (`ExportedChannelMode`); none where the
    table was never made (`table_made`)."""
    if not await table_made(db.execute_fetchall):
        return []
    rows = await db.execute_fetchall(
        "SELECT platform, channel_id, mode, updated_at FROM channel_modes"
        " ORDER BY platform, channel_id"
    )
    return [
        {
            "platform": as_text(platform),
            "channel_id": as_text(channel_id),
            "mode": mode,
            "updated_at": as_time(updated_at),
        }
        for platform, channel_id, mode, updated_at in rows
    ]


async def restore_modes(
    db: aiosqlite.Connection, modes: Sequence[ExportedChannelMode]
) -> tuple[int, int]:
    """Set each of a backup's `modes` as its channel's, inside the caller's transaction;
    channels it does not name keep theirs. Returns how many changed a channel's mode and
    how many were stored already."""
    if not modes:
        return 0, 0  # nothing written: no table made in a database without one
    await db.execute(SCHEMA)
    rows = await db.execute_fetchall("SELECT platform, channel_id, mode FROM channel_modes")
    stored = {(platform, channel_id): mode for platform, channel_id, mode in rows}
    changed = 0
    for m in modes:
        if stored.get((m.platform, m.channel_id)) != m.mode:
            stored[m.platform, m.channel_id] = m.mode
            changed += 1
            await store_mode(db, m.platform, m.channel_id, m.mode, m.updated_at)
    return changed, len(modes) - changed

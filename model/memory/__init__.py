"""Conversation memory in one SQLite file (aiosqlite, WAL).

Every message belongs to a scope string built from platform ids (see `scope_key`).
Reset closes the scope's current context: the rows stay (archived) but are no longer
shown to the model. Purge deletes a scope's rows for good.

The store itself is `store.Memory`; this package's names are re-exported here, so
callers import them from `model.memory`.
"""

from model.memory.store import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    LATEST_TIME,
    MIGRATIONS,
    SCHEMA_VERSION,
    ExportedMessage,
    ExportedRoomLine,
    ExportedSummary,
    ExportError,
    ImportResult,
    Memory,
    MemoryBackup,
    MemoryExport,
    Message,
    ScopeExport,
    Summary,
    as_time,
    channel_prefix,
    database_error,
    parse_export,
    parse_scope,
    said_order,
    scope_key,
)

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "LATEST_TIME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ExportError",
    "ExportedMessage",
    "ExportedRoomLine",
    "ExportedSummary",
    "ImportResult",
    "Memory",
    "MemoryBackup",
    "MemoryExport",
    "Message",
    "ScopeExport",
    "Summary",
    "as_time",
    "channel_prefix",
    "database_error",
    "parse_export",
    "parse_scope",
    "said_order",
    "scope_key",
]

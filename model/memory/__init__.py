"""Conversation memory in one SQLite file (aiosqlite, WAL).

Every message belongs to a scope string built from platform ids (see `scope_key`).
Reset closes the scope's current context: the rows stay (archived) but are no longer
shown to the model. Purge deletes a scope's rows for good.

- `store.py`: `Memory`, the SQLite store: opening the file (`Memory.open`, `_connect`),
  reads, writes, reset; export and import through `backup.py`;
- `backup.py`: one scope's export, the whole database's backup (streamed), and an
  import of either, in parts;
- `database.py`: what the path is checked for before SQLite opens it, and the database's
  errors as one sentence (`FailureLog`: as log lines, each kind once every few minutes);
- `exchanges.py`: one person's exchanges in a shared conversation, found through indexes;
- `purged.py`: what an import leaves out because it was purged here since, and what one
  person's exchanges are (`exchanges_by_speaker`);
- `records.py`: `Message` and `Summary`, and how a stored row becomes one;
- `scopes.py`: scope keys (`scope_key`, `channel_prefix`, `parse_scope`);
- `export_format.py`: the export/backup file, checked by `parse_export`;
- `schema.py`: the tables, as migrations;
- `channel_table.py`: the `channel_modes` table (admins' modes per channel), in backups;
- `import_marker.py`: the marker beside the file while `atri memory import` writes,
  which names an import that was killed;
- `upgrade_copies.py`: the copies of the file an upgrade keeps before it migrates.

Callers import the public names from `model.memory`. `BUSY_TIMEOUT_SECONDS` is not
re-exported: it is read in `database`, so patch it there.
"""

from model.memory.backup import said_order
from model.memory.database import FailureLog, database_error
from model.memory.export_format import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ExportedMessage,
    ExportedRoomLine,
    ExportedSummary,
    ExportError,
    ImportResult,
    MemoryBackup,
    MemoryExport,
    ScopeExport,
    SharedExchanges,
    parse_export,
)
from model.memory.records import LATEST_TIME, Conversation, Message, Summary, as_time
from model.memory.schema import MIGRATIONS, SCHEMA_VERSION
from model.memory.scopes import channel_prefix, parse_scope, scope_key
from model.memory.store import Memory
from model.memory.upgrade_copies import purge_leftovers, upgrade_copies

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "LATEST_TIME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Conversation",
    "ExportError",
    "ExportedMessage",
    "ExportedRoomLine",
    "ExportedSummary",
    "FailureLog",
    "ImportResult",
    "Memory",
    "MemoryBackup",
    "MemoryExport",
    "Message",
    "ScopeExport",
    "SharedExchanges",
    "Summary",
    "as_time",
    "channel_prefix",
    "database_error",
    "parse_export",
    "parse_scope",
    "purge_leftovers",
    "said_order",
    "scope_key",
    "upgrade_copies",
]

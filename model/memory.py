"""Conversation memory in one SQLite file (aiosqlite, WAL).

Every message belongs to a scope string built from platform ids (see `scope_key`).
Reset closes the scope's current context: the rows stay (archived) but are no longer
shown to the model. Purge deletes a scope's rows for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

from atri.errors import ConfigError
from model.protocol import ScopeKind

T = TypeVar("T")

SCHEMA_VERSION = 2

# Each entry upgrades the schema from version i to i+1. Version 1 had no adapter
# column; databases written then are migrated in place.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        user_id TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS messages_scope ON messages (scope, archived, id);
    """,
    """
    ALTER TABLE messages ADD COLUMN adapter_version TEXT NOT NULL DEFAULT '';
    """,
]


def channel_prefix(platform: str, channel_id: str, guild_id: str = "") -> str:
    """The key prefix shared by every scope that lives in one channel."""
    place = f"{guild_id}/{channel_id}" if guild_id else channel_id
    return f"{platform}:chan:{place}"


def scope_key(
    kind: ScopeKind, platform: str, user_id: str, channel_id: str = "", guild_id: str = ""
) -> str:
    """The memory key for a message. Ids only, never display names (those change)."""
    if kind == "user" or not channel_id:
        return f"{platform}:user:{user_id}"
    chan = channel_prefix(platform, channel_id, guild_id)
    if kind == "user_in_channel":
        return f"{chan}:user:{user_id}"
    return chan


@dataclass(frozen=True)
class Message:
    id: int
    scope: str
    role: str
    user_id: str
    display_name: str
    content: str
    created_at: float
    adapter_version: str
    archived: bool


class Grouped(Generic[T]):
    """Calls that arrive while a group is being handled wait, and are handled together
    next: one trip to the database thread for all of them. Alone, a call goes at once.

    `handle` gets the items of a group and returns one outcome per item, in order: the
    caller's result, or an exception to raise in that caller."""

    MAX_GROUP = 200  # SQLite allows 500 terms in one compound SELECT

    def __init__(self, handle: Callable[[list[T]], Awaitable[list[Any]]], name: str) -> None:
        self.handle = handle
        self.name = name
        self._pending: list[tuple[T, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> Any:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self.name)
        return await done

    async def idle(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._pending[: self.MAX_GROUP]
                del self._pending[: self.MAX_GROUP]
                try:
                    outcomes = await self.handle([item for item, _ in group])
                except Exception as exc:
                    outcomes = [exc] * len(group)
                for (_, done), outcome in zip(group, outcomes, strict=True):
                    if done.done():
                        continue  # the caller gave up; a write still happened
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._task = None


class Memory:
    """Async access to the conversation database. Use `await Memory.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # Every message reads its history and writes its exchange. Under load those
        # calls queue for the database thread; each queue is served a group at a time.
        self._writes = Grouped(self._insert_groups, "atri-memory-writes")
        self._reads = Grouped(self._read_groups, "atri-memory-reads")

    @classmethod
    async def open(cls, path: str | Path) -> Memory:
        """Open (or create) the database; a path that cannot hold one is a `ConfigError`
        naming `[memory] path`, raised before anything else loads."""
        path = Path(path)
        if str(path) != ":memory:":
            _check_database_path(path)
        try:
            db = await aiosqlite.connect(path)
        except sqlite3.Error as exc:
            raise _path_error(path, f"cannot be opened ({exc})") from None
        memory = cls(db, path)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            # NORMAL keeps every committed turn across a process crash in WAL mode;
            # only an OS crash can lose the last few, which chat history tolerates.
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await memory._migrate()
        except sqlite3.Error as exc:
            await db.close()
            raise _path_error(path, f"cannot be used as ATRI's database ({exc})") from None
        except BaseException:
            await db.close()
            raise
        return memory

    async def close(self) -> None:
        await self._writes.idle()  # what callers are waiting for gets written
        await self._db.close()

    async def __aenter__(self) -> Memory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: written by a newer ATRI (schema {version} > {SCHEMA_VERSION}); "
                "upgrade ATRI or point [memory] path at another file."
            )
        for step in range(version, SCHEMA_VERSION):
            await self._db.executescript(
                "BEGIN;\n" + MIGRATIONS[step] + f"\nPRAGMA user_version = {step + 1};\nCOMMIT;"
            )
        if version == SCHEMA_VERSION:  # nothing was written: find a read-only file now
            await self._db.execute(f"PRAGMA user_version = {version}")

    async def append(
        self,
        scope: str,
        role: str,
        user_id: str,
        content: str,
        display_name: str = "",
        adapter_version: str = "",
    ) -> None:
        await self.append_many(scope, [(role, user_id, display_name, content, adapter_version)])

    async def append_many(self, scope: str, rows: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Store (role, user_id, display_name, content, adapter_version) rows; returns once
        they are committed. Concurrent callers share one transaction (group commit), and
        no caller's reply goes out before its rows are on disk."""
        now = time.time()
        await self._writes.submit([(scope, *row[:4], now, row[4]) for row in rows])

    async def _insert_groups(self, groups: list[list[tuple[Any, ...]]]) -> list[Any]:
        error = await self._insert([params for group in groups for params in group])
        if error is None or len(groups) == 1:
            return [error] * len(groups)
        # One caller's bad row must not fail the others: write each alone.
        return [await self._insert(group) for group in groups]

    async def _insert(self, params: list[tuple[Any, ...]]) -> Exception | None:
        """One transaction; the error (rolled back) instead of raising it."""
        try:
            await self._db.executemany(
                "INSERT INTO messages (scope, role, user_id, display_name, content,"
                " created_at, adapter_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                params,
            )
            await self._db.commit()
        except Exception as exc:  # disk full, a constraint: the caller hears it
            with contextlib.suppress(Exception):
                await self._db.rollback()
            return exc
        return None

    async def _read_groups(self, requests: list[tuple[str, int]]) -> list[Any]:
        """The newest live rows of several scopes in one query: each part walks the
        (scope, archived, id) index and stops at its limit."""
        limits: dict[str, int] = {}
        for scope, limit in requests:  # a scope asked for twice is read once
            limits[scope] = max(limit, limits.get(scope, 0))
        part = (
            "SELECT * FROM (SELECT * FROM messages WHERE scope = ? AND archived = 0"
            " ORDER BY id DESC LIMIT ?)"
        )
        found = await self._db.execute_fetchall(
            " UNION ALL ".join([part] * len(limits)), [v for item in limits.items() for v in item]
        )
        by_scope: dict[str, list[aiosqlite.Row]] = {scope: [] for scope in limits}
        for row in found:
            by_scope[row["scope"]].append(row)
        for rows in by_scope.values():  # SQL leaves the order of a union's rows open
            rows.sort(key=lambda row: row["id"], reverse=True)
        return [by_scope[scope][:limit] for scope, limit in requests]

    async def history(self, scope: str, max_messages: int = 200) -> list[Message]:
        """The live context, oldest first: the newest `max_messages` messages, less a
        reply at the start whose question fell outside that window (the model never
        sees an answer without its question). Fitting it into the model's context
        window is `character.prompt.fit_prompt`'s job."""
        found = await self._reads.submit((scope, max_messages))
        rows = [_to_message(r) for r in reversed(found)]
        while rows and rows[0].role != "user":
            rows.pop(0)
        return rows

    async def all_messages(self, scope: str, include_archived: bool = True) -> list[Message]:
        query = "SELECT * FROM messages WHERE scope = ?"
        if not include_archived:
            query += " AND archived = 0"
        async with self._db.execute(query + " ORDER BY id", (scope,)) as cur:
            return [_to_message(r) for r in await cur.fetchall()]

    async def reset(self, scope: str) -> int:
        """End the scope's context: its messages are archived and hidden from the model."""
        cur = await self._db.execute(
            "UPDATE messages SET archived = 1 WHERE scope = ? AND archived = 0", (scope,)
        )
        await self._db.commit()
        return cur.rowcount

    async def reset_prefix(self, prefix: str) -> int:
        """Reset every scope whose key starts with `prefix` (all users of one channel)."""
        cur = await self._db.execute(
            "UPDATE messages SET archived = 1 WHERE substr(scope, 1, ?) = ? AND archived = 0",
            (len(prefix), prefix),
        )
        await self._db.commit()
        return cur.rowcount

    async def purge(self, scope: str) -> int:
        """Delete everything stored for the scope, archived context included."""
        cur = await self._db.execute("DELETE FROM messages WHERE scope = ?", (scope,))
        await self._db.commit()
        return cur.rowcount

    async def scopes(self) -> list[dict[str, Any]]:
        async with self._db.execute(
            "SELECT scope, COUNT(*) AS total, SUM(archived = 0) AS live, MAX(created_at) AS last"
            " FROM messages GROUP BY scope ORDER BY last DESC"
        ) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def export(self, scope: str) -> dict[str, Any]:
        messages = await self.all_messages(scope)
        return {
            "format": "atri-memory",
            "version": 1,
            "scope": scope,
            "messages": [
                {
                    "role": m.role,
                    "user_id": m.user_id,
                    "display_name": m.display_name,
                    "content": m.content,
                    "created_at": m.created_at,
                    "adapter_version": m.adapter_version,
                    "archived": m.archived,
                }
                for m in messages
            ],
        }

    async def import_export(self, data: dict[str, Any]) -> int:
        """Load what `export` wrote (into the scope it names); returns rows added."""
        if data.get("format") != "atri-memory":
            raise ValueError('not an ATRI memory export (expected "format": "atri-memory").')
        scope = str(data["scope"])
        now = time.time()
        for m in data["messages"]:
            await self._db.execute(
                "INSERT INTO messages (scope, role, user_id, display_name, content, created_at,"
                " adapter_version, archived) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    scope,
                    m["role"],
                    m["user_id"],
                    m.get("display_name", ""),
                    m["content"],
                    m.get("created_at", now),
                    m.get("adapter_version", ""),
                    int(bool(m.get("archived"))),
                ),
            )
        await self._db.commit()
        return len(data["messages"])


def _path_error(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"[memory] path {path} {problem}; point it at a database file in a folder ATRI "
        "can write, such as data/atri.sqlite3."
    )


def _check_database_path(path: Path) -> None:
    """What can be told from the file system before SQLite tries the path."""
    if path.is_dir():
        raise _path_error(path, "is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else f"{exc.strerror}: {exc.filename}"
        raise _path_error(path, f"cannot be created ({reason})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise _path_error(path, "cannot be written")


def _to_message(row: aiosqlite.Row) -> Message:
    return Message(
        id=row["id"],
        scope=row["scope"],
        role=row["role"],
        user_id=row["user_id"],
        display_name=row["display_name"],
        content=row["content"],
        created_at=row["created_at"],
        adapter_version=row["adapter_version"],
        archived=bool(row["archived"]),
    )

"""Finding one person's exchanges in a conversation a channel shares through indexes
(`exchange_ids`): a purge of them runs under SQLite's write lock, and one conversation
can hold hundreds of thousands of messages, which reading whole held every other
reply's write for seconds."""

from __future__ import annotations

from typing import Any

import aiosqlite

_PAST_EVERY_ID = 2**63 - 1  # SQLite's largest integer: no next message, the turn runs on


async def exchange_ids(db: aiosqlite.Connection, scope: str, user_id: str) -> list[int]:
    """The ids of `store.exchanges_of(user_id, <the scope's messages>)`, in order: their
    messages (`messages_user`), each with the messages after it up to anyone's next
    message (`messages_scope`, from their message on), and those answering one of their
    platform messages (`messages_request`). The work grows with their exchanges, not with
    the conversation."""
    asked = await db.execute_fetchall(
        "SELECT id, request_id FROM messages WHERE user_id = ? AND scope = ? AND role = 'user'"
        " ORDER BY id",
        (user_id, scope),
    )
    if not asked:
        return []
    parts = await _archived_values(db, scope)
    found: set[int] = set()
    for message_id, _ in asked:
        found.update(await _turn_of(db, scope, parts, message_id))
    for request_id in {request_id for _, request_id in asked if request_id != ""}:
        rows = await db.execute_fetchall(
            "SELECT id FROM messages WHERE request_id = ? AND request_id != '' AND scope = ?",
            (request_id, scope),
        )
        found.update(row[0] for row in rows)
    return sorted(found)


async def _archived_values(db: aiosqlite.Connection, scope: str) -> list[Any]:
    """The values of `archived` in the scope (0 and 1; a row another program wrote may
    hold another), one index seek each: `messages_scope` orders a scope's messages by
    id within each of them."""
    values: list[Any] = []
    while True:
        after = "AND archived > ?" if values else ""
        rows = await db.execute_fetchall(
            f"SELECT archived FROM messages WHERE scope = ? {after} ORDER BY archived LIMIT 1",
            (scope, *values[-1:]),
        )
        first = next(iter(rows), None)
        if first is None:
            return values
        values.append(first[0])


async def _turn_of(
    db: aiosqlite.Connection, scope: str, parts: list[Any], message_id: int
) -> list[int]:
    """A person's message and the messages after it before anyone's next one (her
    replies to it), whichever of them are archived: the rows of each part of the index
    from the message up to the first next message there, the earliest of which ends
    the turn."""
    ends: list[int] = []
    for archived in parts:
        rows = await db.execute_fetchall(
            "SELECT id FROM messages WHERE scope = ? AND archived = ? AND id > ?"
            " AND role = 'user' ORDER BY id LIMIT 1",
            (scope, archived, message_id),
        )
        ends.extend(row[0] for row in rows)
    end = min(ends, default=_PAST_EVERY_ID)
    turn: list[int] = []
    for archived in parts:
        rows = await db.execute_fetchall(
            "SELECT id FROM messages WHERE scope = ? AND archived = ? AND id >= ? AND id < ?"
            " ORDER BY id",
            (scope, archived, message_id, end),
        )
        turn.extend(row[0] for row in rows)
    return turn

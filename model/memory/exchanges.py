"""Finding one person's exchanges in a conversation a channel shares through indexes
(`exchange_ids`, `exchange_messages`): a purge of them runs under SQLite's write lock,
and one conversation can hold hundreds of thousands of messages, which reading whole
held every other reply's write for seconds (and an export of one person's words read
all of it into memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiosqlite

from model.memory.records import Message, to_message

_PAST_EVERY_ID = 2**63 - 1  # SQLite's largest integer: no next message, the turn runs on
# Rows an export or `show` of someone's exchanges reads from SQLite at a time.
_ROWS_AT_A_TIME = 500


async def exchange_ids(db: aiosqlite.Connection, scope: str, user_id: str) -> list[int]:
    """The ids of `purged.exchanges_of(user_id, <the scope's messages>)`, in order: their
    messages (`messages_user`), each with the messages after it up to anyone's next
    message (`messages_scope`, from their message on), and those answering one of their
    platform messages (`messages_request`). The work grows with their exchanges, not with
    the conversation, in one statement: a statement each cost more than its rows."""
    parts = await _archived_values(db, scope)
    if not parts:
        return []
    rows = await db.execute_fetchall(
        _exchanges_query(len(parts)) + " ORDER BY 1", (scope, user_id, *parts)
    )
    return [row[0] for row in rows]


async def exchange_messages(
    db: aiosqlite.Connection, scope: str, user_id: str, include_archived: bool = True
) -> AsyncIterator[Message]:
    """The messages of `purged.exchanges_of(user_id, <the scope's messages>)` (only its
    live ones, `archived = 0`, without `include_archived`), in order, found as
    `exchange_ids` finds them and read a few hundred at a time: memory grows with their
    exchanges, never with the conversation."""
    parts = await _archived_values(db, scope) if include_archived else [0]
    if not parts:
        return
    sql = f"SELECT * FROM messages WHERE id IN ({_exchanges_query(len(parts))}) ORDER BY id"
    async with db.execute(sql, (scope, user_id, *parts)) as cursor:
        while rows := await cursor.fetchmany(_ROWS_AT_A_TIME):
            for row in rows:
                yield to_message(row)


def _exchanges_query(parts: int) -> str:
    """The ids of the exchanges' messages among the scope's messages that hold one of
    `parts` values of `archived` (?3, ?4 …; ?1 the scope, ?2 the person): all of them
    (`_archived_values`), or 0 alone (the live messages, as if the others were not
    there). `messages_scope` orders a scope's messages by id within each value: a
    person's turn runs from their message to the first next message in any of them
    (`_next_message`)."""
    values = ", ".join(f"?{3 + i}" for i in range(parts))
    ends = [f"COALESCE({_next_message(f'?{3 + i}')}, {_PAST_EVERY_ID})" for i in range(parts)]
    stop = ends[0] if parts == 1 else f"min({', '.join(ends)})"
    return (
        "WITH turns(start, stop) AS ("
        f"SELECT t.id, {stop} FROM messages AS t"
        f" WHERE t.user_id = ?2 AND t.scope = ?1 AND t.role = 'user' AND +t.archived IN ({values}))"
        " SELECT m.id FROM turns CROSS JOIN messages AS m"
        f" WHERE m.scope = ?1 AND m.archived IN ({values})"
        " AND m.id >= turns.start AND m.id < turns.stop"
        # Those answering one of their platform messages, by `messages_request` (`+scope`:
        # not by `messages_scope`, which would read the whole conversation).
        f" UNION SELECT id FROM messages WHERE +scope = ?1 AND +archived IN ({values})"
        " AND request_id != '' AND request_id IN (SELECT request_id FROM messages"
        f" WHERE user_id = ?2 AND scope = ?1 AND role = 'user' AND +archived IN ({values})"
        " AND request_id != '')"
    )


def _next_message(archived: str) -> str:
    """The first message of anyone after a turn's start (`t.id`) among the scope's
    messages with that `archived` value: one index seek."""
    return (
        f"(SELECT n.id FROM messages AS n WHERE n.scope = ?1 AND n.archived = {archived}"
        " AND n.id > t.id AND n.role = 'user' ORDER BY n.id LIMIT 1)"
    )


async def _archived_values(db: aiosqlite.Connection, scope: str) -> list[Any]:
    """The values of `archived` in the scope (0 and 1; a row another program wrote may
    hold another), one index seek each."""
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

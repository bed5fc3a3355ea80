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
    the conversation, in one statement: a statement each cost more than its rows."""
    parts = await _archived_values(db, scope)
    if not parts:
        return []
    rows = await db.execute_fetchall(_exchanges_query(len(parts)), (scope, user_id, *parts))
    return [row[0] for row in rows]


def _exchanges_query(parts: int) -> str:
    """`exchange_ids`'s statement for a scope whose messages hold `parts` values of
    `archived` (?3, ?4 …; ?1 the scope, ?2 the person). `messages_scope` orders a scope's
    messages by id within each value: a person's turn runs from their message to the
    first next message in any of them (`_next_message`)."""
    values = [f"?{3 + i}" for i in range(parts)]
    ends = [f"COALESCE({_next_message(value)}, {_PAST_EVERY_ID})" for value in values]
    stop = ends[0] if parts == 1 else f"min({', '.join(ends)})"
    return (
        "WITH turns(start, stop) AS ("
        f"SELECT t.id, {stop} FROM messages AS t"
        " WHERE t.user_id = ?2 AND t.scope = ?1 AND t.role = 'user')"
        " SELECT m.id FROM turns CROSS JOIN messages AS m"
        f" WHERE m.scope = ?1 AND m.archived IN ({', '.join(values)})"
        " AND m.id >= turns.start AND m.id < turns.stop"
        # Those answering one of their platform messages, by `messages_request` (`+scope`:
        # not by `messages_scope`, which would read the whole conversation).
        " UNION SELECT id FROM messages WHERE +scope = ?1 AND request_id != ''"
        " AND request_id IN (SELECT request_id FROM messages WHERE user_id = ?2"
        " AND scope = ?1 AND role = 'user' AND request_id != '')"
        " ORDER BY 1"
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

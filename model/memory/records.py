"""What the store hands out (`Message`, `Summary`, `Conversation`) and how a stored row
becomes one.

A row may have been written by another program (SQLite keeps each value's own type), so
reading one never fails: text fields become text, a time that is not one becomes 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

# The latest time a message may carry: the last day of year 9999 (seconds since 1970),
# so a date can be shown for it in any time zone.
LATEST_TIME = 253_402_214_399.0
# Rows `DecodedRows` keeps: the history windows (`[memory] max_history_messages`, 40 by
# default) of a few hundred conversations answered at once.
DECODED_ROWS = 16_384


@dataclass(frozen=True)
class Summary:
    """What she remembers of a scope's older exchanges: every live message with an id up
    to `covers_up_to` is folded into `text` and no longer shown to the model itself."""

    id: int  # its row: a summary extending it names it (`Memory.add_summary`)
    scope: str
    text: str
    covers_up_to: int
    adapter_version: str
    created_at: float
    archived: bool = False


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
    request_id: str = ""  # the platform message it answers or is ("" for console, /v1)


@dataclass(frozen=True)
class Conversation:
    """A scope's live context as one read of the database found it."""

    messages: list[Message]  # oldest first, as `Memory.history` gives them
    summary: Summary | None  # its live summary, when asked for
    # The newest reset recorded in the database then: a reply made from this is not
    # stored once its scope is reset after it (`Memory.append_many`).
    reset_mark: int = 0


def to_message(row: aiosqlite.Row) -> Message:
    """A stored row as a `Message`, whatever another program wrote into its columns
    (SQLite keeps a value's own type): text fields become text, a time that is not a
    number becomes 0."""
    return Message(
        id=row["id"],
        scope=as_text(row["scope"]),
        role=as_text(row["role"]),
        user_id=as_text(row["user_id"]),
        display_name=as_text(row["display_name"]),
        content=as_text(row["content"]),
        created_at=as_time(row["created_at"]),
        adapter_version=as_text(row["adapter_version"]),
        archived=bool(row["archived"]),
        request_id=as_text(row["request_id"]),
    )


def live_context(
    newest_first: list[aiosqlite.Row], decode: Callable[[aiosqlite.Row], Message] = to_message
) -> list[Message]:
    """Rows read newest first as messages oldest first, less replies at the start."""
    rows = [decode(r) for r in reversed(newest_first)]
    while rows and rows[0].role != "user":
        rows.pop(0)
    return rows


class DecodedRows:
    """The `Message` of each row read lately, by the row's every value: a conversation's
    window is read again at each of its messages, and its rows decoded again (a frozen
    dataclass, each field checked) cost a busy worker 3-4% of its time. Keyed so, an
    entry is never stale: a row reworded, archived, cut or moved to another id (by this
    process or another, an import) is another key. The values' types too: 1 and 1.0
    are equal, but not as text (another program's number in a text column). Rows of
    one shape only (`store._MESSAGE_COLUMNS`); at `size` the least recently read goes."""

    def __init__(self, size: int = DECODED_ROWS) -> None:
        self.size = size
        self._by_row: dict[tuple[tuple[Any, ...], tuple[type, ...]], Message] = {}

    def message(self, row: aiosqlite.Row) -> Message:
        key = (tuple(row), tuple(map(type, row)))
        found = self._by_row.pop(key, None)  # put back last: the most recently read
        if found is None:
            found = to_message(row)
            if len(self._by_row) >= self.size:
                del self._by_row[next(iter(self._by_row))]
        self._by_row[key] = found
        return found


def to_summary(row: aiosqlite.Row | dict[str, Any]) -> Summary:
    return Summary(
        id=int(row["id"]),
        scope=as_text(row["scope"]),
        text=as_text(row["text"]),
        covers_up_to=int(row["covers_up_to"]),
        adapter_version=as_text(row["adapter_version"]),
        created_at=as_time(row["created_at"]),
        archived=bool(row["archived"]),
    )


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def as_time(value: Any) -> float:
    """A stored time in seconds since 1970; 0 for anything that is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if 0 <= value <= LATEST_TIME else 0.0

"""The database's tables, as the steps that build them.

`Memory.open` runs the steps a file is missing (its `PRAGMA user_version` says how many it
has), so a database written by an older ATRI is upgraded in place.
"""

SCHEMA_VERSION = 15

# Each entry upgrades the schema from version i to i+1. Version 1 had no adapter
# column, version 2 no room lines, version 3 no request ids, version 4 no summaries,
# version 5 no platform time on room lines, version 6 no first ids, version 7 no message ids
# on room lines, version 8 no reset records, version 9 no index of request ids, version 10 no edit
# times, version 11 no index of people's messages, version 12 no purge records, version 13
# no index of room lines' message ids, version 14 no index of her replies by time;
# databases written then are migrated in place.
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
    """
    CREATE TABLE IF NOT EXISTS room_lines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room TEXT NOT NULL,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS room_lines_room ON room_lines (room, id);
    CREATE INDEX IF NOT EXISTS room_lines_age ON room_lines (created_at);
    CREATE INDEX IF NOT EXISTS room_lines_user ON room_lines (platform, user_id);
    """,
    # The platform's id of the message an exchange answered: a reply cut short or a
    # message deleted afterwards is found by it.
    """
    ALTER TABLE messages ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
    """,
    """
    CREATE TABLE IF NOT EXISTS summaries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        text TEXT NOT NULL,
        covers_up_to INTEGER NOT NULL,
        adapter_version TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS summaries_scope ON summaries (scope, archived, id);
    """,
    # When the platform says a room line was said: lines are read in that order, as two
    # said a moment apart can reach the worker in either order. A line stored before
    # keeps its place: it is ordered by the time it was stored.
    """
    ALTER TABLE room_lines ADD COLUMN said_at REAL NOT NULL DEFAULT 0;
    UPDATE room_lines SET said_at = created_at;
    CREATE INDEX IF NOT EXISTS room_lines_said ON room_lines (room, said_at, id);
    """,
    # The id a message was stored with, once an import has moved it to another (NULL:
    # never moved): a reply being written still finds the messages it was made from.
    """
    ALTER TABLE messages ADD COLUMN first_id INTEGER;
    """,
    # The platform's id of the message a room line was said in: a line whose message is
    # deleted or recalled (or edited) is found by it. A line stored before has none ('')
    # and is never found so. Indexed since version 14 (`room_lines_request`, for a query
    # that says `request_id != ''`).
    """
    ALTER TABLE room_lines ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
    """,
    # The latest reset (or purge) of each scope, or of every scope starting with `scope`
    # (`prefix` = 1: a channel's), or of a person's exchanges wherever they are (`prefix`
    # = 2: a purge of them, `store._RESET_PERSON`), or of a person's own conversations
    # wherever they are (`prefix` = 4: a reset of their key, `store._RESET_OWN`), under an
    # id above every one used
    # before: a reply being written is not stored once its scope was reset after its
    # memory was read, also when nothing was stored yet (a first reply), which no
    # archived message can tell, and when the reset came from another process (`atri
    # memory reset`). `prefix` = 3 (`room.RESET_LINES`): room lines were archived or
    # deleted (a room's, a person's in one, a person's in all), so a line said before it
    # that reaches the worker later is not kept; it ends no conversation. `at`: when (the
    # worker's clock), so records older than any reply can be are deleted.
    # Not exported: it names no message.
    """
    CREATE TABLE IF NOT EXISTS resets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        prefix INTEGER NOT NULL DEFAULT 0,
        at REAL NOT NULL,
        UNIQUE (scope, prefix)
    );
    """,
    # Messages by the platform message they are or answer, whatever scope holds them: a
    # delete that no longer says whose message it was (Discord's, uncached) still finds
    # its exchange. Messages with none (console, /v1) are left out of it.
    """
    CREATE INDEX IF NOT EXISTS messages_request ON messages (request_id) WHERE request_id != '';
    """,
    # When a person's message was last edited, by the platform's clock (0: never): an
    # edit older than the text kept changes nothing, since two edits of one message can
    # reach the worker in either order (`ChatRequest.edited_at`). Not exported: a restored
    # text takes any edit.
    """
    ALTER TABLE messages ADD COLUMN edited_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE room_lines ADD COLUMN edited_at REAL NOT NULL DEFAULT 0;
    """,
    # Each person's messages by the conversation that holds them: a purge, reset, export
    # or `remembers` of a person finds the conversations they spoke in (channels' shared
    # ones, their own in each channel) without reading every message, under a write lock
    # that holds back every other reply's write meanwhile.
    """
    CREATE INDEX IF NOT EXISTS messages_user ON messages (user_id, scope) WHERE role = 'user';
    """,
    # Each purge (`atri memory purge`, a person's own, an admin's): the key purged and
    # when, no text, kept for good (`resets` keeps one a day): an import of a backup
    # taken before it leaves out what it deleted (`purged.without_purged_scope`), so a
    # restore does not bring a person back who asked to be forgotten. A backup carries
    # them (export version 8), and its import keeps them.
    """
    CREATE TABLE IF NOT EXISTS purges (
        scope TEXT PRIMARY KEY,
        at REAL NOT NULL
    );
    """,
    # Room lines by their room and the platform message they were said in: a copy of a
    # message the platform delivers again (a OneBot implementation after a reconnect, a
    # Discord resume) is found at each heard line (`room._INSERT_LINE`) without walking
    # the room's lines (25 ms a line at `max_lines_per_channel` 100,000). Not unique: a
    # file may hold copies stored before it, and an import keeps what it is given.
    """
    CREATE INDEX IF NOT EXISTS room_lines_request ON room_lines (room, request_id)
        WHERE request_id != '';
    """,
    # Her replies by when they were stored: a recall or purge finds those since the words
    # it forgets that may repeat them (`store._take_out_repeats`) without reading every
    # message, under a write lock that holds back every other reply's write meanwhile.
    # Her replies only: a query must say `role = 'assistant'` for SQLite to take it.
    """
    CREATE INDEX IF NOT EXISTS messages_replies ON messages (created_at) WHERE role = 'assistant';
    """,
]

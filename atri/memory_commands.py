"""`atri memory …`: list, show, reset, purge, prune, import and export conversation memory."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from atri.cli_common import (
    Commands,
    ask_first,
    atri_command,
    config_after_group,
    configured_settings,
    console,
    err_console,
    fail,
    output_path,
    own_file,
    run_async,
    write_output,
    write_stdout,
    writing_output,
)
from atri.config import DEFAULT_CONFIG_NAME, Settings
from atri.terminal import counted, printable, shown, typed

# Where `show` starts a message's text: after its role ("assistant" and a space).
SHOW_INDENT = 10
# How a gzipped export begins, and the most `import` unpacks of one in memory: a
# whole-database backup of 200,000 messages is well under it, a gzip bomb is not.
GZIP_MAGIC = b"\x1f\x8b"
MAX_UNPACKED_EXPORT_BYTES = 1_000_000_000

memory_app = Commands(help="Inspect and manage conversation memory.", no_args_is_help=True)
memory_app.callback()(config_after_group)


def _database() -> tuple[Path, str]:
    """The memory database, and the config file it was read from ("" for none)."""
    settings = configured_settings()
    return settings.path(settings.memory.path), settings.config_file


def _which_config(config_file: str) -> str:
    """Why the database may be the wrong one: another config, or none at all."""
    if not config_file:
        return (
            f"No {DEFAULT_CONFIG_NAME} in {Path.cwd()}: built-in defaults are used; give the "
            "config your bots run with by --config, or run this in its folder."
        )
    return "Is this the config.toml your bots run with? (give it with --config)"


def _with_memory(fn: Any, read_only: bool = False, creates: bool = False) -> Any:
    """Run `fn(memory)`; `read_only` (a command that only reads) writes nothing to the
    database, so it does not wait for another program writing to it. Only `creates` (an
    import) makes a database where there is none: any other command there was most
    likely run with another config.toml, and an empty database made for it would only
    hide that."""
    import sqlite3

    from model.memory import Memory, database_error
    from model.memory.database import holds_no_tables, is_empty_file

    path, config_file = _database()
    if not creates and str(path) != ":memory:" and not path.exists():
        fail(
            f"No memory database at {path} ([memory] path): nothing is stored there. "
            f"{_which_config(config_file)}"
        )
    if not creates and is_empty_file(path):
        # SQLite would make a new database in it: a restore whose copy failed, hidden.
        fail(
            f"No memory database at {path} ([memory] path): the file is empty (0 bytes), "
            "so nothing is stored there; if you restored a backup, the copy failed."
        )
    if not creates and holds_no_tables(path):
        # As an empty one: listing it would make her tables in it, and say "no memory".
        fail(
            f"No memory database at {path} ([memory] path): the file holds no tables, so "
            "nothing is stored there; if you copied it while ATRI ran, copy it again with "
            "its -wal file beside it."
        )

    async def go() -> Any:
        memory = await Memory.open(path, read_only=read_only, expect_new=creates)
        try:
            result = await fn(memory)
        except sqlite3.Error as exc:  # a full disk, a worker mid-write: one sentence
            await memory.close()
            raise database_error(path, exc, "read" if read_only else "write") from None
        except BaseException:
            await asyncio.shield(memory.close())
            raise
        await _closed_though_stopped(memory)
        return result

    return run_async(go())


async def _closed_though_stopped(memory: Any) -> None:
    """Close `memory` once the command's work is done. A Ctrl-C now (the close
    checkpoints the log into the file: a moment after a big import) lets it finish and
    is not reported: saying "Stopped" over an import that was complete misled."""
    closing = asyncio.ensure_future(memory.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()


# Past this many scopes `list` prints plain aligned lines: a table of 18,000 (a bot in
# 3,000 groups) took rich 27 s to draw.
PLAIN_LIST_ROWS = 500


@memory_app.command("list")
def memory_list(
    prefix: Annotated[
        str,
        typer.Argument(help="only the scopes that start with this (qq:chan:123, discord:)"),
    ] = "",
) -> None:
    """List conversation scopes with their message counts."""

    async def go(memory: Any) -> list[dict[str, Any]]:
        _say_unfinished_imports(memory.path)
        return await memory.scopes()  # type: ignore[no-any-return]

    prefix = typed(prefix)
    rows = [r for r in _with_memory(go, read_only=True) if str(r["scope"]).startswith(prefix)]
    if not rows:
        told = f" under {shown(prefix)!r}" if prefix else ""
        console.print(f"No conversations stored yet{told}.", markup=False, highlight=False)
        return
    header = ("scope", "live", "archived", "room lines", "last message")
    cells = [_list_cells(r) for r in rows]
    if len(cells) > PLAIN_LIST_ROWS:
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
        lines = [
            "  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip()
            for c in [header, *cells]
        ]
        write_stdout("\n".join(lines) + "\n", "The list")
        return
    table = Table(*header)
    for scope, *counts in cells:
        # A scope is printed as it can be typed back, never read as rich markup.
        table.add_row(Text(scope), *counts)
    console.print(table)


def _list_cells(r: dict[str, Any]) -> tuple[str, str, str, str, str]:
    live, total = int(r["live"] or 0), int(r["total"])
    room_live, room_total = int(r["room_live"] or 0), int(r["room_total"])
    room = (
        str(room_live)
        if room_live == room_total
        else f"{room_live} (+{room_total - room_live} archived)"
    )
    return (shown(r["scope"]), str(live), str(total - live), room, _when(r["last"]))


def _when(seconds: float) -> str:
    """A stored time as a local date with its UTC offset (as the log's times: this
    machine's zone, its summer time included); "-" for a row that holds no usable time."""
    import datetime as dt

    if seconds <= 0:
        return "-"
    try:
        return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M %z")
    except (ValueError, OverflowError, OSError):
        return "-"


# The argument of show, reset and purge: a key as `atri memory list` prints it.
ScopeArgument = Annotated[
    str, typer.Argument(help="a scope as `atri memory list` shows it (qq:user:12345)")
]


@memory_app.command("show")
def memory_show(
    scope: ScopeArgument,
    archived: Annotated[
        bool, typer.Option(help="include reset (archived) messages, summaries and room lines")
    ] = False,
) -> None:
    """Show what she remembers of one scope: summary, recent turns and room lines.

    The room lines are those a reset of the scope reaches. A channel's key shows its
    members' own conversations there too, and a user's key theirs in every channel
    (\\[memory] scope = "user_in_channel") and their exchanges in conversations channels
    share (scope = "channel")."""
    scope = typed(scope)
    _remembered(scope)

    async def read(memory: Any) -> list[tuple[str, Any, Any, Any]]:
        found = []
        for key in [scope, *await memory.member_scopes_of(scope)]:
            summaries = await memory.all_summaries(key)
            messages = await memory.all_messages(key, include_archived=archived)
            live = await memory.summary(key)  # the one her prompt holds
            heading = f"conversation {shown(key)}:" if key != scope else ""
            found.append(
                (heading, [s for s in summaries if archived or not s.archived], messages, live)
            )
        # Their words in conversations channels share (a purge of them deletes these);
        # not those conversations' summaries, which hold the others' words too.
        for key, theirs in await memory.shared_exchanges_of(scope, include_archived=archived):
            heading = f"their exchanges in {shown(key)}, a conversation the channel shares:"
            found.append((heading, [], theirs, None))
        # The lines she overheard that a reset or purge of the key reaches, by room.
        from model.memory import parse_scope

        lines = await memory.room.export_lines(*parse_scope(scope))
        for room in dict.fromkeys(line["room"] for line in lines):
            heard = [
                _heard_line(line)
                for line in lines
                if line["room"] == room and (archived or not line["archived"])
            ]
            found.append((f"room lines in {shown(room)}:", [], heard, None))
        return found

    async def go(memory: Any) -> list[tuple[str, Any, Any, Any]]:
        # As of one moment, as `export`: a summary the worker stores meanwhile is in all
        # of what is printed or none of it (never the live one turns are cut by, unshown).
        return await memory.at_one_moment(read)  # type: ignore[no-any-return]

    shown_any = False
    for heading, summaries, messages, live in _with_memory(go, read_only=True):
        if not messages and not summaries:
            continue
        if heading:  # a conversation or room the key covers beside its own
            if shown_any:
                console.print("")
            console.print(heading, markup=False, highlight=False)
        shown_any = True
        _print_conversation(summaries, messages, live, archived)
    if not shown_any:
        # A reset archives, so a scope reset since is remembered yet shows nothing live.
        hint = "" if archived else " (a reset keeps what it forgot archived: --archived shows it)"
        console.print(f"No messages in scope {shown(scope)}{hint}.", markup=False)


def _heard_line(line: dict[str, Any]) -> Any:
    """A room line (`RoomLog.export_lines`) in the shape `_print_conversation` prints."""
    return SimpleNamespace(
        role="heard",
        display_name=line["display_name"],
        user_id=line["user_id"],
        adapter_version="",
        archived=line["archived"],
        content=line["content"],
    )


def _print_conversation(
    summaries: list[Any], messages: list[Any], live: Any, archived: bool
) -> None:
    for summary in summaries:
        tag = f" [{summary.adapter_version}]" if summary.adapter_version else ""
        flag = " (archived)" if summary.archived else ""
        console.print(
            f"summary{tag}{flag}, up to message {summary.covers_up_to}:",
            markup=False,
            highlight=False,
        )
        console.print(printable(summary.text), markup=False, highlight=False)
        console.print("")
    if live is not None and not archived:
        # What the summary holds is shown through it; the turns after it follow.
        messages = [m for m in messages if m.id > live.covers_up_to]
        console.print("recent turns:", markup=False)
    for m in messages:
        # Stored text is whatever people sent: printed without terminal commands.
        # A name on one line and a message's further lines, and the lines it wraps into,
        # indented under it: no stored text prints as a line of its own ("assistant
        # 亚托莉: …" that she never said).
        who = " ".join(printable(m.display_name or m.user_id or m.role).split())
        tag = f" [{m.adapter_version}]" if m.adapter_version else ""
        flag = " (archived)" if m.archived else ""
        body = _indented(f"{who}{tag}{flag}: {printable(m.content)}", SHOW_INDENT)
        console.print(f"{m.role:9} {body}", markup=False, highlight=False, soft_wrap=True)


def _indented(text: str, indent: int) -> str:
    """`text` wrapped to the terminal's width less `indent`, each line after the first
    indented by it (rich would wrap it from the first column). Where the output is not
    wrapped (a pipe, a file), only the text's own lines are."""
    if not console.wraps:
        return ("\n" + " " * indent).join(line.rstrip() for line in text.split("\n"))
    lines = Text(text).wrap(console, max(console.width - indent, 20))
    return ("\n" + " " * indent).join(line.plain.rstrip() for line in lines)


def _remembered(scope: str) -> None:
    """Stop, in one sentence, where nothing is stored under `scope` (a typo, most
    likely): the scopes it most likely meant are named (`_suggested`)."""

    async def go(memory: Any) -> tuple[bool, list[str]]:
        if await memory.remembers(scope):
            return True, []
        return False, [row["scope"] for row in await memory.scopes()]

    known, scopes = _with_memory(go, read_only=True)
    if not known:
        close, more = _suggested(scope, scopes)
        named = [shown(s) for s in close] + ([f"one of {more} more"] if more else [])
        said = " or ".join(named) if len(named) < 3 else f"{', '.join(named[:-1])} or {named[-1]}"
        hint = f" Did you mean {said}?" if named else ""
        fail(f"No scope {shown(scope)} is remembered (see `atri memory list`).{hint}")


# The most scopes an unknown scope's error names; past it, how many more there are.
MAX_SUGGESTED = 5


def _ids(key: str) -> tuple[str, str, str]:
    """(platform, channel id, user id) of a scope key, "" where it names none; a bare id
    (no platform: `atri memory show 920000000000000001`) may be either id. A Discord
    channel's id is the part after its server's (`discord:chan:<guild>/<channel>`)."""
    if ":" not in key:
        return "", key, key
    from model.memory import parse_scope

    platform, user_id, room = parse_scope(key)
    place = room.removeprefix(f"{platform}:chan:")
    return platform, place.rpartition("/")[2], user_id


def _suggested(scope: str, scopes: list[str]) -> tuple[list[str], int]:
    """The stored scopes `scope` most likely meant, and how many more of them there are
    past `MAX_SUGGESTED`: every scope holding its channel or user id, whatever the
    platform (the same id is a QQ group and, spelled another way, a Discord channel),
    and the scopes spelled most like it. Those of its own platform come first: one of
    another platform, pasted, would reset or purge the wrong platform's memory."""
    import difflib

    platform, channel_id, user_id = _ids(scope)
    ours = [s for s in scopes if platform and s.startswith(f"{platform}:")]
    theirs = [s for s in scopes if not (platform and s.startswith(f"{platform}:"))]
    holding: set[str] = set()
    for key in scopes:
        _, key_channel, key_user = _ids(key)
        if (channel_id and key_channel == channel_id) or (user_id and key_user == user_id):
            holding.add(key)
    # Spelled alike, per side: a platform with many close keys leaves the other its own.
    alike = [
        *difflib.get_close_matches(scope, ours, n=3, cutoff=0.6),
        *difflib.get_close_matches(scope, theirs, n=3, cutoff=0.6),
    ]
    candidates = list(dict.fromkeys([*sorted(holding), *alike]))

    def rank(key: str) -> tuple[bool, bool, float]:
        other_platform = bool(platform) and not key.startswith(f"{platform}:")
        likeness = difflib.SequenceMatcher(None, scope, key).ratio()
        return other_platform, key not in holding, -likeness

    candidates.sort(key=rank)
    return candidates[:MAX_SUGGESTED], max(len(candidates) - MAX_SUGGESTED, 0)


@memory_app.command("reset")
def memory_reset(scope: ScopeArgument) -> None:
    """End a scope's context (messages and room lines stay archived)."""
    scope = typed(scope)
    _remembered(scope)

    async def go(memory: Any) -> tuple[int, int, list[str]]:
        messages, lines = await memory.reset_with_room(scope)
        shared = [] if messages or lines else await memory.shared_conversations_of(scope)
        return messages, lines, shared

    messages, lines, shared = _with_memory(go)
    if shared:
        # Their words are only in channels' shared conversations: "0 messages archived"
        # read as if the reset had failed.
        named = ", ".join(shown(s) for s in shared[:3]) + (" …" if len(shared) > 3 else "")
        console.print(
            f"Nothing reset: {shown(scope)} has no conversation of their own; their messages"
            f" are in conversations channels share ({named}). Reset one of those to end it"
            f" for everyone there, or `{atri_command('memory', 'purge', shown(scope))}` to"
            " delete their words everywhere.",
            markup=False,
        )
        return
    room = f" and {counted(lines, 'room line')}" if lines else ""
    console.print(
        f"Reset {shown(scope)}: {counted(messages, 'message')}{room} archived.", markup=False
    )


@memory_app.command("purge")
def memory_purge(
    scope: ScopeArgument,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="delete without asking (needed without a terminal)")
    ] = False,
) -> None:
    """Delete a scope's messages and room lines for good, archived ones included."""
    scope = typed(scope)
    _remembered(scope)
    if not yes:
        ask_first(
            f"Delete every message of {shown(scope)} for good?",
            "Nothing deleted: without --yes, purge asks before it deletes anything, and no "
            "one can answer here (stdin is not a terminal); add --yes to delete them.",
            "Nothing deleted.",
        )

    async def go(memory: Any) -> tuple[int, int]:
        counts = await memory.purge(scope)
        await memory.settle_deletions()  # the text out of the file, not only hidden
        return counts  # type: ignore[no-any-return]

    messages, lines = _with_memory(go)
    room = f" and {counted(lines, 'room line')}" if lines else ""
    console.print(
        f"Purged {shown(scope)}: {counted(messages, 'message')}{room} deleted.", markup=False
    )
    from model.memory import purge_leftovers

    leftovers = purge_leftovers(_database()[0])
    if leftovers:
        console.print(printable(leftovers), markup=False)


@memory_app.command("prune")
def memory_prune(
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than",
            min=0.001,
            help="delete messages stored more than this many days ago",
        ),
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="delete without asking (needed without a terminal)")
    ] = False,
) -> None:
    """Delete every scope's messages and archived summaries older than --older-than days.

    For good, archived messages included, as \\[memory] delete_after_days does in a worker;
    each conversation's live summary stays."""
    if not yes:
        ask_first(
            f"Delete every message older than {older_than:g} days for good?",
            "Nothing deleted: without --yes, prune asks before it deletes anything, and no "
            "one can answer here (stdin is not a terminal); add --yes to delete them.",
            "Nothing deleted.",
        )

    async def go(memory: Any) -> Any:
        deleted = await memory.delete_older(time.time() - older_than * 86400)
        await memory.settle_deletions()  # the text out of the file, not only hidden
        return deleted

    deleted = _with_memory(go)
    counts = _counted((deleted.messages, "message"), (deleted.summaries, "summary"))
    console.print(
        f"Pruned: {counts or 'nothing'} older than {older_than:g} days deleted (summaries"
        " a reset archived; each conversation's live summary is kept).",
        markup=False,
    )
    from model.memory import purge_leftovers

    leftovers = purge_leftovers(_database()[0])  # as purge says it
    if leftovers:
        console.print(printable(leftovers), markup=False)


@memory_app.command("import")
def memory_import(
    file: Annotated[
        Path, typer.Argument(help="a file `atri memory export` wrote (a scope or a backup)")
    ],
    include_purged: Annotated[
        bool,
        typer.Option(
            "--include-purged", help="also restore what `atri memory purge` deleted since"
        ),
    ] = False,
) -> None:
    """Load a file written by `atri memory export` back into memory.

    One scope, or a whole-database backup; what is already stored is skipped, and what a
    purge deleted after the file was written is left out (--include-purged restores it)."""
    import zlib

    from atri.text_files import NotUtf8Error, decode_hand_written
    from model.memory import parse_export

    try:
        # A byte-order mark is read: UTF-16 is what Windows PowerShell 5.1's `>` writes.
        data = json.loads(decode_hand_written(_export_bytes(file)))
        export = parse_export(data, str(file))  # every message is checked before any write
    except (
        OSError,
        EOFError,  # a gzip file cut short
        zlib.error,
        NotUtf8Error,
        UnicodeDecodeError,
        json.JSONDecodeError,
    ) as exc:
        fail(f"{file}: cannot be read as an ATRI memory export ({exc}).")
    except RecursionError:  # lists or objects nested a thousand deep: was a traceback
        fail(f"{file}: cannot be read as an ATRI memory export (it nests too deeply).")

    async def go(memory: Any) -> Any:
        from model.memory.backup import ImportStopped
        from model.memory.import_marker import marking_import

        _say_unfinished_imports(memory.path, file)
        command = _import_command(file, include_purged)
        with marking_import(memory.path, file, command) as started:
            try:
                return await memory.import_export(
                    export, include_purged=include_purged, planned=started
                )
            except ImportStopped as stopped:
                raise _stopped_import(stopped, memory.path) from None

    result = _with_memory(go, creates=True)
    console.print(import_summary(result), markup=False, highlight=False)


def _import_command(file: Path, include_purged: bool) -> str:
    """`atri memory import` of `file` as typed again: with the config and option given."""
    import shlex

    config = configured_settings().config_file
    words = ["atri"]
    if config:
        words += ["--config", shlex.quote(str(Path(config).resolve()))]
    words += ["memory", "import", shlex.quote(str(file.resolve()))]
    if include_purged:
        words.append("--include-purged")
    return " ".join(words)


def _say_unfinished_imports(database: Path, importing: Path | None = None) -> None:
    """Name each import into `database` that a kill (SIGKILL, a power cut) cut short: its
    parts were committed one at a time, so the database holds part of its file. One of
    the file being imported now is completed by this import."""
    from model.memory.import_marker import local_time, unfinished_imports

    for marker in unfinished_imports(database):
        if importing is not None and Path(marker.file) == importing.resolve():
            changed = "" if marker.same_file(importing) else " (the file has changed since)"
            err_console.print(
                f"Completing the import of {marker.file} that started at "
                f"{local_time(marker.started_at)} and did not finish (the process was "
                f"killed){changed}; what it stored is skipped.",
                markup=False,
                highlight=False,
            )
        else:
            err_console.print(marker.sentence(), markup=False, highlight=False)


def _stopped_import(stopped: Any, path: Path) -> BaseException:
    """What to raise for an import that stopped after writing part of the file: its
    sentence says what it imported (printed here for a Ctrl-C, which `run_async` ends
    with "Stopped"), so nobody believes the database as it was or the file all in."""
    import sqlite3

    from atri.errors import UserError
    from model.memory import database_error

    done = import_summary(stopped.done).removesuffix(".")
    rest = f"{done} before it stopped; run it again to import the rest (what is stored is skipped)."
    cause = stopped.cause
    if isinstance(cause, asyncio.CancelledError):
        err_console.print(rest, markup=False, highlight=False)
        return cause
    if isinstance(cause, sqlite3.Error):
        return UserError(f"{database_error(path, cause, 'write')} {rest}")
    err_console.print(rest, markup=False, highlight=False)
    return cause


def _export_bytes(file: Path) -> bytes:
    """The bytes of the export in `file`, unpacked where it was gzipped (`atri memory
    export | gzip`), at most `MAX_UNPACKED_EXPORT_BYTES` of either: a plain file was read
    whole (a wrong multi-GB file, or /dev/zero, until memory ran out). A folder, a device
    (one never ends) or a socket is refused; a FIFO is read as a file is. A database file is
    refused in one sentence: read as text it was "UTF-16 without its byte-order mark"."""
    import gzip

    from model.memory.database import SQLITE_HEADER

    found = file.stat()
    kind = _not_a_regular_file(found.st_mode)
    if kind:
        fail(f"{file}: is {kind}, not a file; `atri memory import` reads an export saved as one.")
    limit = f"{MAX_UNPACKED_EXPORT_BYTES / 1e9:g} GB"
    # A file whose size says it is over the limit is refused before more than its first
    # bytes are read (read, a 1.2 GB file took 1 GB of memory first).
    too_big = found.st_size > MAX_UNPACKED_EXPORT_BYTES
    # Read, not seeked: a FIFO (`atri memory import <(zcat backup.json.gz)`) cannot seek.
    with file.open("rb") as handle:
        raw = handle.read(len(GZIP_MAGIC) if too_big else MAX_UNPACKED_EXPORT_BYTES + 1)
    gzipped = raw.startswith(GZIP_MAGIC)
    if gzipped and not too_big and len(raw) <= MAX_UNPACKED_EXPORT_BYTES:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacking:
            raw = unpacking.read(MAX_UNPACKED_EXPORT_BYTES + 1)
    if too_big or len(raw) > MAX_UNPACKED_EXPORT_BYTES:
        if gzipped:
            fail(
                f"{file}: unpacks to over {limit}; unpack it with gunzip and import the file "
                "that makes."
            )
        fail(
            f"{file}: is over {limit}, the most `atri memory import` reads of one file; "
            "export a backup that large scope by scope (`atri memory export SCOPE`)."
        )
    if raw.startswith(SQLITE_HEADER):
        fail(
            f"{file}: is an SQLite database{' (gzipped)' if gzipped else ''}, not an export: "
            "export from it with a config whose [memory] path names it (`atri --config "
            "old.toml memory export --out backup.json`), or stop ATRI and copy it over the "
            "database."
        )
    return raw


def _not_a_regular_file(mode: int) -> str:
    """What a file of `mode` is where it is no regular file ("a folder"), else ""."""
    import stat

    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISCHR: "a device",
        stat.S_ISBLK: "a device",
        stat.S_ISSOCK: "a socket",
    }
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):  # a FIFO: `<(zcat backup.json.gz)`
        return ""
    return next((kind for test, kind in kinds.items() if test(mode)), "something other than a file")


def import_summary(result: Any) -> str:
    """What `atri memory import` did, one sentence: each kind with its own count."""
    counts = result.counts
    added = _counted(
        (counts.messages_added, "message"),
        (counts.summaries_added, "summary"),
        (counts.room_lines, "room line"),
    )
    notes = []
    skipped = _counted(
        (counts.messages_skipped, "message"),
        (counts.summaries_skipped, "summary"),
        (counts.room_skipped, "room line"),
        (counts.channel_modes_skipped, "channel mode"),
    )
    if skipped:
        notes.append(f"already stored, skipped: {skipped}")
    if counts.channel_modes:  # a backup's: silenced groups stay silent after a restore
        notes.append(f"{counted(counts.channel_modes, 'channel mode')} restored")
    if result.shared_added:
        notes.append(
            f"{result.shared_added} of them into"
            f" {counted(result.shared_conversations, 'conversation')} channels share"
        )
    if result.member_conversations:
        notes.append(f"with {_members_own(result.member_conversations)}")
    if counts.messages_archived:
        notes.append(
            f"{_counted((counts.messages_archived, 'stored message'))} archived, as the "
            "file has them archived by a reset"
        )
    if counts.messages_reworded:
        notes.append(
            f"{_counted((counts.messages_reworded, 'stored message'))} took the file's edited text"
        )
    purged = _counted(
        (counts.purged_messages, "message"),
        (counts.purged_summaries, "summary"),
        (counts.purged_room_lines, "room line"),
    )
    if purged:
        keys = ", ".join(shown(key) for key in counts.purged_keys[:3])
        more = len(counts.purged_keys) - 3
        keys += f" and {more} more" if more > 0 else ""
        notes.append(
            f"left out, purged since the file was written: {purged} of {keys};"
            " --include-purged restores them"
        )
    note = "".join(f" ({n})" for n in notes)
    return f"Imported {added or 'nothing new'} into {shown(result.scope)}{note}."


def _counted(*kinds: tuple[int, str]) -> str:
    """ "2 messages and 1 summary": the kinds there are some of, or ""."""
    plural = {"summary": "summaries"}
    parts = [f"{n} {name if n == 1 else plural.get(name, name + 's')}" for n, name in kinds if n]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""


@memory_app.command("export")
def memory_export(
    scope: Annotated[str, typer.Argument(help="one scope; none: the whole database")] = "",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write a scope (messages, summaries, its room lines) as JSON.

    A user's export holds their exchanges in channels' shared conversations too, and a
    channel's or a user's key the members' own conversations it covers. With no
    scope: the whole database (the channel modes admins set too), as a backup that
    `atri memory import` restores."""
    scope = typed(scope)
    settings = configured_settings()
    # Before anything is read: the database is what the export is made from.
    if out is not None and (what := own_file(out, settings)):
        fail(f"{out} is {what}: write the export elsewhere.")
    if not scope:
        _export_backup(output_path(out), settings)
        return
    _remembered(scope)  # nothing written for a scope nothing is stored under

    async def go(memory: Any) -> dict[str, Any]:
        return await memory.export(scope)  # type: ignore[no-any-return]

    data = _with_memory(go, read_only=True)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    out = output_path(out)
    if out is None:
        write_stdout(text + "\n", "The export")
        return
    write_output(out, text + "\n", settings, private=True)
    members = data["member_conversations"]
    shared = data["shared_conversations"]
    messages = sum(len(p["messages"]) for p in [data, *members])
    theirs = sum(len(p["messages"]) for p in shared)
    # A person's words in groups' shared conversations are theirs too (see `export`).
    notes = []
    if theirs:
        notes.append(f"{theirs} of them from {counted(len(shared), 'conversation')} channels share")
    if members:
        in_members = sum(len(p["messages"]) for p in members)
        notes.append(f"{in_members} of them from {_members_own(len(members))}")
    from_where = f" ({'; '.join(notes)})" if notes else ""
    _say_written(
        out,
        f"{counted(messages + theirs, 'message')}{from_where}",
        summaries=sum(len(p["summaries"]) for p in [data, *members]),
        room_lines=len(data["room_lines"]),
    )


def _export_backup(out: Path | None, settings: Settings) -> None:
    """The whole database, written as it is read (`Memory.write_backup`): made into one
    string first, a backup of 200,000 messages took 632 MB of memory."""
    if out is None:

        async def to_stdout(memory: Any) -> None:
            await memory.write_backup(lambda text: write_stdout(text, "The export"))
            write_stdout("\n", "The export")

        _with_memory(to_stdout, read_only=True)
        return

    async def to_file(memory: Any) -> Any:
        # Opened once the database is: a FIFO's reader waits for nothing that fails.
        with writing_output(out, settings, private=True) as write:
            counts = await memory.write_backup(write)
            write("\n")
        return counts

    counts = _with_memory(to_file, read_only=True)
    _say_written(
        out,
        counted(counts.messages, "message"),
        summaries=counts.summaries,
        room_lines=counts.room_lines,
        channel_modes=counts.channel_modes,
    )


def _say_written(
    out: Path, messages: str, summaries: int, room_lines: int, channel_modes: int = 0
) -> None:
    """What an export to a file holds, on stderr: each kind with its count."""
    kinds = [
        messages,
        f"{summaries} {'summary' if summaries == 1 else 'summaries'}",
        counted(room_lines, "room line"),
    ]
    if channel_modes:  # a backup's
        kinds.append(counted(channel_modes, "channel mode"))
    err_console.print(f"Wrote {', '.join(kinds[:-1])} and {kinds[-1]} to {out}.", markup=False)


def _members_own(n: int) -> str:
    """ "1 member's own conversation", "2 members' own conversations"."""
    return "1 member's own conversation" if n == 1 else f"{n} members' own conversations"

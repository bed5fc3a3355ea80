"""The export file: what `atri memory export` writes and `atri memory import` reads.

One scope (`MemoryExport`) or the whole database (`MemoryBackup`), checked whole by
`parse_export` before anything is written; a file it refuses is one sentence naming
the place in it (`ExportError`). Reading and writing the database is `store.Memory`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from atri.errors import UserError
from model.memory.records import LATEST_TIME
from model.protocol import ChannelMode

EXPORT_FORMAT = "atri-memory"
# Bump it when the export gains something that an older ATRI could not import;
# `parse_export` refuses versions it does not know. Version 2 added summaries, room lines
# and the whole-database backup (`scopes`); version 3 the platform `request_id` of each
# message (so a restored exchange can still be cut or forgotten when its platform message
# is); version 4 each room line's `said_at` (the platform's time, its order in the room);
# version 5 each room line's `request_id` (so a restored line still goes when its message
# is deleted or recalled); version 6 a user's exchanges in the conversations channels
# share (`shared_conversations`); version 7 the members' own conversations a channel's or
# a user's key covers (`member_conversations`); version 8 the purges a backup's database
# kept (`purges`: key and time, no text); version 9 the channel modes admins set
# (`channel_modes`, a backup's only: they were lost on a restore, so the groups an admin
# had silenced were answered again); versions 1 to 8 still import.
EXPORT_VERSION = 9


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")  # a lone surrogate fails here, not inside SQLite
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode (it holds a lone surrogate)") from None
    return value


def _some_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Text = Annotated[str, AfterValidator(_utf8)]


class ExportedMessage(BaseModel):
    """One message of an export, as `Memory.export` writes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    user_id: Text
    display_name: Text = ""
    content: Text
    created_at: float = Field(ge=0, le=LATEST_TIME, allow_inf_nan=False)
    adapter_version: Text = ""
    archived: bool = False
    request_id: Text = ""  # version 3


Time = Annotated[float, Field(ge=0, le=LATEST_TIME, allow_inf_nan=False)]


class ExportedSummary(BaseModel):
    """A summary of an export; `covers` is the index (in the scope's `messages`) of the
    last message it covers, as ids differ between databases."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Text  # "" when the exchanges it covers held nothing worth keeping
    covers: int = Field(ge=0)
    adapter_version: Text = ""
    created_at: Time
    archived: bool = False


class ExportedRoomLine(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    room: Annotated[Text, AfterValidator(_some_text)]
    platform: Text
    user_id: Text
    display_name: Text = ""
    content: Text
    created_at: Time
    # When the platform says it was said (version 4); older exports: when it was heard.
    said_at: Time | None = None
    archived: bool = False
    request_id: Text = ""  # version 5: the platform's id of its message


class ScopeExport(BaseModel):
    """One scope of a whole-database backup."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scope: Annotated[Text, AfterValidator(_some_text)]
    messages: list[ExportedMessage]
    summaries: list[ExportedSummary] = Field(default_factory=list)

    @model_validator(mode="after")
    def _covers_a_message(self) -> ScopeExport:
        for i, summary in enumerate(self.summaries):
            if summary.covers >= len(self.messages):
                raise ValueError(
                    f"summaries[{i}].covers must be the index of one of the scope's "
                    f"{len(self.messages)} messages (it is {summary.covers})"
                )
        return self


class SharedExchanges(BaseModel):
    """A user's exchanges in a conversation a channel shares (`[memory] scope =
    "channel"`): their messages and her replies to them, no one else's, and no summary
    (a summary holds the others' words too)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scope: Annotated[Text, AfterValidator(_some_text)]
    messages: list[ExportedMessage]


class MemoryExport(ScopeExport):
    """What `atri memory export SCOPE` writes and `atri memory import` reads: one scope,
    its summaries (version 2), the room lines its people or room said (version 2), for
    a user's scope their exchanges in conversations channels share (version 6), and the
    members' own conversations the scope covers (`[memory] scope = "user_in_channel"`:
    a channel's members' there, or a user's in every channel; version 7)."""

    format: Literal["atri-memory"]
    version: Literal[1, 2, 3, 4, 5, 6, 7, 8, 9]
    room_lines: list[ExportedRoomLine] = Field(default_factory=list)
    shared_conversations: list[SharedExchanges] = Field(default_factory=list)
    member_conversations: list[ScopeExport] = Field(default_factory=list)


class ExportedPurge(BaseModel):
    """A purge the backed-up database kept (`purges`): the key purged and when, no text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scope: Annotated[Text, AfterValidator(_some_text)]
    at: Time


class ExportedChannelMode(BaseModel):
    """A mode an admin set for a channel or group (`model.channels`), as a backup holds it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    platform: Annotated[Text, AfterValidator(_some_text)]
    channel_id: Annotated[Text, AfterValidator(_some_text)]
    mode: ChannelMode
    updated_at: Time


class MemoryBackup(BaseModel):
    """What `atri memory export` with no scope writes: the whole database, with the
    purges it kept (version 8): restored on another machine, they leave a purged person
    out of an older backup imported there too; and the channel modes admins set (version
    9), so a restore does not answer again in the groups an admin silenced."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["atri-memory"]
    version: Literal[2, 3, 4, 5, 6, 7, 8, 9]
    scopes: list[ScopeExport]
    room_lines: list[ExportedRoomLine] = Field(default_factory=list)
    purges: list[ExportedPurge] = Field(default_factory=list)
    channel_modes: list[ExportedChannelMode] = Field(default_factory=list)


class ExportError(UserError):
    """An export file that `atri memory import` refuses; str() names the place in it."""


@dataclass
class ImportCounts:
    """What an import did, kind by kind."""

    messages_added: int = 0
    messages_skipped: int = 0  # already stored
    summaries_added: int = 0
    summaries_skipped: int = 0
    messages_archived: int = 0  # stored live, archived in the file (a reset after it)
    messages_reworded: int = 0  # stored never edited, edited in the file
    room_lines: int = 0
    room_skipped: int = 0
    shared_added: int = 0  # of `messages_added`: put back in conversations channels share
    # Left out: purged here after the file was written (`purged`), and the keys purged.
    purged_messages: int = 0
    purged_summaries: int = 0
    purged_room_lines: int = 0
    purged_keys: list[str] = field(default_factory=list)
    # A backup's channel modes: set here (another mode, or none, was stored), and those
    # stored already.
    channel_modes: int = 0
    channel_modes_skipped: int = 0


@dataclass(frozen=True)
class ImportResult:
    scope: str  # the scope imported, or how many a backup held
    counts: ImportCounts
    shared_conversations: int = 0  # how many such conversations the file named
    member_conversations: int = 0  # how many members' own conversations it held

    @property
    def added(self) -> int:
        """Messages and summaries added."""
        return self.counts.messages_added + self.counts.summaries_added

    @property
    def skipped(self) -> int:
        """Messages and summaries already stored."""
        return self.counts.messages_skipped + self.counts.summaries_skipped

    @property
    def room_lines(self) -> int:
        return self.counts.room_lines

    @property
    def room_skipped(self) -> int:
        return self.counts.room_skipped

    @property
    def shared_added(self) -> int:
        return self.counts.shared_added


_EXPECTED = {
    "missing": "is missing",
    "extra_forbidden": "is not a field of an ATRI memory export",
    "string_type": "must be a string",
    "float_type": "must be a number (seconds since 1970)",
    "finite_number": "must be a number (seconds since 1970)",
    "greater_than_equal": "must be a time after 1970 (seconds since 1970)",
    "less_than_equal": "must be a time before the year 10000 (seconds since 1970)",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
}


def parse_export(data: Any, source: str) -> MemoryExport | MemoryBackup:
    """Check a whole export (one scope, or a backup of every scope) before anything is
    written; the first problem is one sentence naming `source`, the message's index and
    the field."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ExportError(
            f'{source}: not an ATRI memory export (expected a JSON object with "format": '
            f'"{EXPORT_FORMAT}", as `atri memory export` writes).'
        )
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > EXPORT_VERSION:
        raise ExportError(
            f"{source}: written by a newer ATRI (export version {version}, this one reads "
            f"{EXPORT_VERSION}); upgrade ATRI to import it."
        )
    model: type[MemoryExport | MemoryBackup] = (
        MemoryBackup if "scopes" in data and "scope" not in data else MemoryExport
    )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        ctx = first.get("ctx", {})
        expected = _EXPECTED.get(first["type"], first["msg"].lower())
        if first["type"] == "literal_error":
            expected = f"must be {ctx.get('expected', '')}"
        elif first["type"] == "value_error":
            expected = str(ctx.get("error", expected))
        elif first["type"] == "less_than_equal" and _in_milliseconds(first["input"]):
            expected += ": it looks like milliseconds; divide the times by 1000"
        got = "" if first["type"] == "missing" else f" (it is {_preview(first['input'])})"
        if first["type"] == "value_error" and isinstance(first["input"], dict):
            got = ""  # a check of a whole object: its sentence says what is wrong
        more = f"; {len(errors) - 1} more problem(s) after it" if len(errors) > 1 else ""
        raise ExportError(
            f"{source}: {(where.lstrip('.') + ' ') if where else ''}{expected}{got}{more}; "
            "nothing was imported."
        ) from None


def _in_milliseconds(value: Any) -> bool:
    """A time past the year 10000 in seconds that is a time of 2001-2286 in milliseconds,
    as JavaScript's Date.now() and many platforms give it."""
    return isinstance(value, int | float) and 1e12 <= value < 1e13


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text if len(text) <= 40 else text[:37] + "..."

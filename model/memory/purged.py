"""What an import leaves out because it was purged here after the file was written.

`atri memory purge` is "delete for good", and the export is what a person asking for their
data gets: a backup taken before a purge must not bring the person back when restored.
Each purge is kept (`purges`: the key and when, no text); what the file holds of a purged
key, said before its purge, is left out, as the purge reached it (`Memory.purge`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from model.memory.export_format import ExportedMessage, ExportedRoomLine, ScopeExport
from model.memory.scopes import parse_scope


@dataclass
class LeftOut:
    """What was left out, and the purged keys it belonged to."""

    messages: int = 0
    summaries: int = 0
    room_lines: int = 0
    keys: set[str] = field(default_factory=set)


def without_purged_scope(
    part: ScopeExport, purges: dict[str, float], left_out: LeftOut
) -> ScopeExport:
    """`part` less the messages a purge in `purges` (key: when) deleted after they were
    said, and the summaries that folded any of them in."""
    gone: set[int] = set()
    for key, at in purges.items():
        reached = _reached(key, part.scope, part.messages)
        hit = {i for i in reached if part.messages[i].created_at < at}
        if hit:
            left_out.keys.add(key)
            gone |= hit
    if not gone:
        return part
    first_gone = min(gone)
    summaries = [s for s in part.summaries if s.covers < first_gone]
    left_out.messages += len(gone)
    left_out.summaries += len(part.summaries) - len(summaries)
    messages = [m for i, m in enumerate(part.messages) if i not in gone]
    return ScopeExport.model_construct(scope=part.scope, messages=messages, summaries=summaries)


def without_purged_lines(
    lines: Sequence[ExportedRoomLine], purges: dict[str, float], left_out: LeftOut
) -> list[ExportedRoomLine]:
    """The room lines no purge in `purges` deleted: a channel's purge its room's, a
    person's their lines in every room of the platform, those said before it."""
    kept = []
    for line in lines:
        key = next((k for k, at in purges.items() if line.created_at < at and _has(k, line)), None)
        if key is None:
            kept.append(line)
        else:
            left_out.keys.add(key)
            left_out.room_lines += 1
    return kept


def _has(key: str, line: ExportedRoomLine) -> bool:
    platform, user_id, room = parse_scope(key)
    if user_id:
        return line.platform == platform and line.user_id == user_id
    return bool(room) and line.room == room


def _reached(key: str, scope: str, messages: Sequence[ExportedMessage]) -> range | list[int]:
    """The indexes of `messages` (of `scope`) a purge of `key` deletes: all of a
    conversation it deletes whole; a person's exchanges in one a channel shares."""
    platform, user_id, room = parse_scope(key)
    s_platform, s_user, s_room = parse_scope(scope)
    if not user_id:  # a channel's: its conversation and its members' own
        whole = bool(room) and (scope == key or scope.startswith(key + ":"))
        return range(len(messages)) if whole else []
    if s_platform != platform or (room and s_room != room):
        return []
    if s_user:
        return range(len(messages)) if s_user == user_id else []
    return _exchange_indexes(user_id, messages) if s_room else []


def _exchange_indexes(user_id: str, messages: Sequence[ExportedMessage]) -> list[int]:
    """The indexes of a person's exchanges in a conversation a channel shares, as
    `store.exchanges_of` finds them: their messages and her replies to them."""
    requests = {m.request_id for m in messages if m.role == "user" and m.user_id == user_id}
    requests.discard("")
    theirs = []
    asker = None
    for i, message in enumerate(messages):
        if message.role == "user":
            asker = message.user_id
        if asker == user_id or message.request_id in requests:
            theirs.append(i)
    return theirs

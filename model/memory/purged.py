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


class Purges:
    """The purges of a database (key: when) indexed by what they reach: an import of
    tens of thousands of lines, against thousands of purges kept for good, looks up the
    few that can reach each line or conversation instead of trying every purge."""

    def __init__(self, purges: dict[str, float]) -> None:
        # A channel's purge by its room; a person's (everywhere, or in one channel) by
        # their platform and id, with the room it is limited to ("": every room).
        self.rooms: dict[str, list[tuple[str, float]]] = {}
        self.people: dict[tuple[str, str], list[tuple[str, str, float]]] = {}
        for key, at in purges.items():
            platform, user_id, room = parse_scope(key)
            if user_id:
                self.people.setdefault((platform, user_id), []).append((key, room, at))
            elif room:
                self.rooms.setdefault(room, []).append((key, at))

    def of_line(self, line: ExportedRoomLine) -> str | None:
        """A purge key that deleted `line` (said before it), or None: a channel's purge
        its room's lines, a person's their lines in every room of the platform."""
        for key, at in self.rooms.get(line.room, []):
            if line.created_at < at:
                return key
        for key, _room, at in self.people.get((line.platform, line.user_id), []):
            if line.created_at < at:
                return key
        return None

    def reaching(
        self, scope: str, messages: Sequence[ExportedMessage]
    ) -> list[tuple[str, float, Sequence[int]]]:
        """(key, when, indexes of `messages`) of each purge that reaches some of the
        conversation `scope`: all of a conversation it deletes whole; a person's
        exchanges in one a channel shares."""
        platform, user_id, room = parse_scope(scope)
        whole = range(len(messages))
        found: list[tuple[str, float, Sequence[int]]] = [
            (key, at, whole)
            for prefix in _prefixes(scope)
            for key, at in self.rooms.get(prefix, [])
        ]
        if user_id:  # a person's own conversation
            for key, in_room, at in self.people.get((platform, user_id), []):
                if not in_room or in_room == room:
                    found.append((key, at, whole))
        elif room:  # a channel's shared one: each speaker's exchanges
            for speaker, theirs in _exchanges_by_speaker(messages).items():
                for key, in_room, at in self.people.get((platform, speaker), []):
                    if not in_room or in_room == room:
                        found.append((key, at, theirs))
        return found


def without_purged_scope(part: ScopeExport, purges: Purges, left_out: LeftOut) -> ScopeExport:
    """`part` less the messages a purge in `purges` deleted after they were said, and the
    summaries that folded any of them in."""
    gone: set[int] = set()
    for key, at, reached in purges.reaching(part.scope, part.messages):
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
    lines: Sequence[ExportedRoomLine], purges: Purges, left_out: LeftOut
) -> list[ExportedRoomLine]:
    """The room lines no purge in `purges` deleted (`Purges.of_line`)."""
    kept = []
    for line in lines:
        key = purges.of_line(line)
        if key is None:
            kept.append(line)
        else:
            left_out.keys.add(key)
            left_out.room_lines += 1
    return kept


def _exchanges_by_speaker(messages: Sequence[ExportedMessage]) -> dict[str, list[int]]:
    """Each speaker's exchanges (indexes) in a conversation a channel shares, as
    `store.exchanges_of` finds them: their messages and her replies to them. One pass for
    all of them: a purge of each would read the conversation once."""
    askers: dict[str, set[str]] = {}
    for m in messages:
        if m.role == "user" and m.request_id:
            askers.setdefault(m.request_id, set()).add(m.user_id)
    theirs: dict[str, list[int]] = {}
    asker = None
    for i, message in enumerate(messages):
        if message.role == "user":
            asker = message.user_id
        owners = set(askers.get(message.request_id, ())) if message.request_id else set()
        if asker is not None:
            owners.add(asker)
        for owner in owners:
            theirs.setdefault(owner, []).append(i)
    return theirs


def _prefixes(scope: str) -> list[str]:
    """`scope` and each part of it before a ":": the keys of a channel's purges that
    delete it whole (its own, or the channel it is a member's conversation in)."""
    return [scope] + [scope[:i] for i, c in enumerate(scope) if c == ":"]

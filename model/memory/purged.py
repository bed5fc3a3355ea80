"""What an import leaves out because it was purged here after the file was written.

`atri memory purge` is "delete for good", and the export is what a person asking for their
data gets: a backup taken before a purge must not bring the person back when restored.
Each purge is kept (`purges`: the key and when, no text); what the file holds of a purged
key, said before its purge, is left out, as the purge reached it (`Memory.purge`), and so
are her replies that repeat a purged person's words (`Repeats`, `without_repeats`), as the
purge took those out of what was stored."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from model.memory.export_format import ExportedMessage, ExportedRoomLine, ScopeExport
from model.memory.scopes import parse_scope

# Her reply repeats a forgotten text (a recalled message or room line, a purged person's
# words) when it holds a run of REPEAT_RUN_CHARS characters of it with a digit or a letter
# of a script written without spaces in it (a phone number, an ID, a short Chinese or
# Japanese sentence), a run of REPEAT_PROSE_CHARS of any characters (about four words of
# spaced prose: two ordinary words in common are no repeat), or the text whole when it
# is at least REPEAT_WHOLE_CHARS long; compared casefolded, whitespace runs as one space.
REPEAT_RUN_CHARS = 8
REPEAT_PROSE_CHARS = 20
REPEAT_WHOLE_CHARS = 5
# Letters from here on (CJK radicals, kana, Hangul, ideographs) are of scripts written
# without spaces, where a few characters are already words.
_UNSPACED_SCRIPTS_FROM = 0x2E80


@dataclass
class LeftOut:
    """What was left out, and the purged keys it belonged to."""

    messages: int = 0
    summaries: int = 0
    room_lines: int = 0
    keys: set[str] = field(default_factory=set)
    # A purged person's words left out, by platform: (text, said at) of their messages and
    # room lines, which her replies in the file may repeat (`without_repeats`).
    words: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


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
            for speaker, theirs in exchanges_by_speaker(messages).items():
                for key, in_room, at in self.people.get((platform, speaker), []):
                    if not in_room or in_room == room:
                        found.append((key, at, theirs))
        return found


def without_purged_scope(part: ScopeExport, purges: Purges, left_out: LeftOut) -> ScopeExport:
    """`part` less the messages a purge in `purges` deleted after they were said, and the
    summaries that folded any of them in."""
    platform = parse_scope(part.scope)[0]
    gone: set[int] = set()
    for key, at, reached in purges.reaching(part.scope, part.messages):
        hit = {i for i in reached if part.messages[i].created_at < at}
        if hit:
            left_out.keys.add(key)
            gone |= hit
            if person := parse_scope(key)[1]:  # a channel's purge takes out no reply
                left_out.words.setdefault(platform, []).extend(
                    (m.content, m.created_at)
                    for m in (part.messages[i] for i in hit)
                    if m.role == "user" and m.user_id == person
                )
    return _without(part, gone, left_out)


def without_repeats(parts: Sequence[ScopeExport], left_out: LeftOut) -> list[ScopeExport]:
    """`parts` less her replies that repeat a purged person's words left out of the file
    (`left_out.words`), said on their platform since the first of them, as the purge took
    such replies out of what was stored (`Memory._take_out_repeats`), and the summaries
    that folded one in. Counted as purged messages, so `include_purged` (which leaves
    nothing out) restores them too. One pass over the replies, however many words."""
    found = {
        platform: (Repeats(text for text, _ in said), min(at for _, at in said))
        for platform, said in left_out.words.items()
    }
    if not found:
        return list(parts)
    kept = []
    for part in parts:
        platform = parse_scope(part.scope)[0]
        if platform not in found:
            kept.append(part)
            continue
        repeats, since = found[platform]
        gone = {
            i
            for i, m in enumerate(part.messages)
            if m.role == "assistant" and m.created_at >= since and repeats.found_in(m.content)
        }
        kept.append(_without(part, gone, left_out))
    return kept


def _without(part: ScopeExport, gone: set[int], left_out: LeftOut) -> ScopeExport:
    """`part` less the messages `gone` (indexes) and the summaries that folded any in,
    counted in `left_out`."""
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
            if parse_scope(key)[1]:  # a person's purge: her replies may repeat it
                left_out.words.setdefault(line.platform, []).append((line.content, line.created_at))
    return kept


class Said(Protocol):
    """A message as a person's exchanges are found among: a stored `Message` or an
    export's `ExportedMessage`."""

    @property
    def role(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def request_id(self) -> str: ...


SaidT = TypeVar("SaidT", bound=Said)


def exchanges_by_speaker(messages: Sequence[Said]) -> dict[str, list[int]]:
    """Each speaker's exchanges (indexes) in a conversation a channel shares, out of its
    `messages` in id order: their messages, each with what follows it up to anyone's next
    message, and her replies to one of their platform messages (by request id). The one
    definition: what `Memory.purge_user_in` deletes and an export of a person holds
    (`exchanges.exchange_ids`, through indexes) and what an import leaves out of a
    backup (`Purges.reaching`). One pass for all of them: a purge of each would read the
    conversation once."""
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


def exchanges_of(user_id: str, messages: Sequence[SaidT]) -> list[SaidT]:
    """One person's exchanges out of a conversation's `messages` (`exchanges_by_speaker`)."""
    return [messages[i] for i in exchanges_by_speaker(messages).get(user_id, [])]


def _prefixes(scope: str) -> list[str]:
    """`scope` and each part of it before a ":": the keys of a channel's purges that
    delete it whole (its own, or the channel it is a member's conversation in)."""
    return [scope] + [scope[:i] for i, c in enumerate(scope) if c == ":"]


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def _dense(run: str) -> bool:
    """Whether a run holds a digit or a letter of a script written without spaces: eight
    such characters are a number or a sentence, eight of spaced prose two words."""
    return any(ch.isdigit() or (ch.isalpha() and ord(ch) >= _UNSPACED_SCRIPTS_FROM) for ch in run)


class Repeats:
    """Texts being forgotten, as the runs of them (REPEAT_RUN_CHARS …) a reply that
    repeats one holds: a reply is then read once, its runs looked up in sets, however
    many texts a purge forgets."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.runs: set[str] = set()
        self.prose: set[str] = set()
        self.whole: set[str] = set()
        for text in map(_normalised, texts):
            if len(text) < REPEAT_WHOLE_CHARS:
                continue  # "好的", "ok": in any reply
            if len(text) < REPEAT_PROSE_CHARS:
                self.whole.add(text)
            self.runs.update(r for r in _windows(text, REPEAT_RUN_CHARS) if _dense(r))
            self.prose.update(_windows(text, REPEAT_PROSE_CHARS))

    def __bool__(self) -> bool:
        return bool(self.runs or self.prose or self.whole)

    def found_in(self, reply: str) -> bool:
        text = _normalised(reply)
        for runs, size in ((self.runs, REPEAT_RUN_CHARS), (self.prose, REPEAT_PROSE_CHARS)):
            if runs and any(run in runs for run in _windows(text, size)):
                return True
        return any(whole in text for whole in self.whole)


def _windows(text: str, size: int) -> Iterator[str]:
    return (text[i : i + size] for i in range(len(text) - size + 1))

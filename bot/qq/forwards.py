"""A forwarded chat record (合并转发, a `forward` segment) as text for the model.

NapCat sends the record's messages inline (`data.content`, each a message report); read
so, the record is "name: text" a line as room lines are (`said_line`: a message's
further lines indented, a sender named after her with their QQ number: `author_label`),
as Discord reads a forwarded message as the text it forwards. go-cqhttp, Lagrange and
LLOneBot send only the record's id: for a message she answers, the record is fetched
(`get_forward_msg`, at most `FETCH_SECONDS`, so a slow implementation never holds her
reply up) and read the same way; one that could not be fetched, or a message she only
listens to (no call per group message), tells the model a record was sent that it cannot
see.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

from nonebot import get_driver
from nonebot.adapters.onebot.v11 import Bot, Message, MessageSegment

from atri.graphemes import within_limit
from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines, spoken_language
from bot.qq.connections import Connections
from bot.qq.faces import face_text
from bot.qq.segments import segment_note
from bot.qq.text import defang, inline_record
from bot.quoting import at_name, author_label
from model.character.prompt import said_line
from model.protocol import first_visible_name

log = logging.getLogger(__name__)

# How long a record's fetch may hold the reply up; NoneBot's own api_timeout is 30 s.
FETCH_SECONDS = 3.0


async def fetch_record(bot: Bot, message: Message, connections: Connections) -> None:
    """The first record in `message` sent as an id only, fetched into its `data.content`
    as NapCat would have sent it; left as it was when the fetch fails or is slow. One
    per message: QQ forwards a record as a message of its own, and a report naming many
    would otherwise be as many calls."""
    for seg in message:
        if seg.type == "forward" and inline_record(seg) is None:
            record_id = seg.data.get("id")
            if isinstance(record_id, (str, int)) and str(record_id):
                record = await _fetched(bot, str(record_id), connections)
                if record:
                    seg.data["content"] = record
            return


async def _fetched(bot: Bot, record_id: str, connections: Connections) -> list[Any] | None:
    """The record's messages as message reports; None when they could not be had."""
    try:
        data: Any = await asyncio.wait_for(
            connections.call(bot, lambda: bot.call_api("get_forward_msg", id=record_id)),
            FETCH_SECONDS,
        )
    except Exception as exc:  # refused, unknown id, too slow, the connection dropped
        log.debug("QQ: forwarded record %s not fetched: %r", record_id, exc)
        return None
    return _as_reports(data)


def _as_reports(data: Any) -> list[Any] | None:
    """The fetched messages as `_message_line` reads them: {"sender", "message"}.
    NapCat, Lagrange and LLOneBot answer with message reports (`messages[].message`),
    go-cqhttp with `messages[].content`; OneBot v11's own shape is `message`, a list of
    `node` segments (`data.nickname`, `data.user_id`, `data.content`)."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("messages"), list):
        return [
            _report(item, item.get("sender")) for item in data["messages"] if isinstance(item, dict)
        ]
    if isinstance(data.get("message"), list):
        nodes = [
            seg["data"]
            for seg in data["message"]
            if isinstance(seg, dict) and isinstance(seg.get("data"), dict)
        ]
        return [_report(node, node) for node in nodes]
    return None


def _report(item: dict[str, Any], sender: Any) -> dict[str, Any]:
    """One fetched message as a report: its words (`message`, else go-cqhttp's
    `content`) and the sender's names, whatever else either held."""
    message = item.get("message", item.get("content"))
    if not isinstance(sender, dict):
        sender = {}
    who = {key: sender[key] for key in ("card", "nickname", "user_id") if key in sender}
    return {"sender": who, "message": message}


def record_text(segment: MessageSegment) -> str:
    """The note the model reads for a forwarded record, at most `MAX_INPUT_CHARS` of it."""
    record = inline_record(segment)
    if record is None:
        return lines().forward_unread_note
    her_names = qq_her_names()
    lines_read = [line for item in record if (line := _message_line(item, her_names))]
    if not lines_read:
        return lines().forward_unread_note
    text = "\n".join(lines_read)
    room = MAX_INPUT_CHARS - len(lines().forward_note.format(record=""))
    return lines().forward_note.format(record=within_limit(text, max(room, 0)))


def qq_her_names() -> set[str]:
    """The names that call her in a group (NoneBot's `nickname`: `[qq] nicknames`, else
    her card's); none while NoneBot is not started (a record read on its own)."""
    try:
        return set(get_driver().config.nickname)
    except ValueError:
        return set()


def _message_line(item: Any, her_names: Collection[str] = ()) -> str:
    """One forwarded message as "name: text" (`said_line`, its sender named apart from
    her: `author_label`); "" for one with nothing to read."""
    if not isinstance(item, dict):
        return ""
    text = defang(segments_text(_as_message(item.get("message")))).strip()
    if not text:
        return ""
    sender: Any = item.get("sender")
    if not isinstance(sender, dict):
        sender = {}
    # A name as text or a number only: a list or object from an odd implementation is no
    # name; one that shows nothing (zero-width characters only) leaves the next.
    names = (sender.get(key) for key in ("card", "nickname", "user_id"))
    name = first_visible_name(
        *(str(n) if isinstance(n, int) and n else n for n in names), fallback="?"
    )
    user_id = sender.get("user_id")
    author_id = str(user_id) if isinstance(user_id, (str, int)) else ""
    return said_line(author_label(defang(name), author_id, her_names), text, ": ")


def _as_message(raw: Any) -> Message:
    """A message as a report holds it: an array of segments or a CQ-code string."""
    if isinstance(raw, str):
        return Message(raw)
    message = Message()
    for seg in raw if isinstance(raw, list) else []:
        if isinstance(seg, dict) and isinstance(seg.get("type"), str):
            data = seg.get("data")
            message.append(MessageSegment(seg["type"], data if isinstance(data, dict) else {}))
    return message


def segments_text(message: Message, read_records: bool = False) -> str:
    """What someone else's message said, read without asking QQ anything: text, "@name"
    (the name sent with the @, else the QQ number), a face's name, a note for anything
    else (a picture, a card's title). A record inside it is only noted (records nest),
    unless `read_records`: then one whose messages came with it (a quoted record, as
    `get_msg` gives it) is read as `record_text` reads it, a level deep."""
    parts = []
    for seg in message:
        shown = plain_part(seg)
        if shown is not None:
            parts.append(shown)
        elif seg.type == "forward":
            parts.append(record_text(seg) if read_records else lines().forward_unread_note)
        elif seg.type == "at":
            target = str(seg.data.get("qq", ""))
            who = at_name(seg.data.get("name")) or target
            parts.append(at_all_said() if target == "all" else f"@{who}")
    return "".join(parts)


# How an @ of the whole group reads in her prompt, in the language she speaks: "@全体成员"
# in an English chat was Chinese among English words.
AT_ALL_SAID = {"zh": "@全体成员", "en": "@everyone", "ja": "@全員"}


def at_all_said() -> str:
    return AT_ALL_SAID.get(spoken_language(), AT_ALL_SAID["zh"])


def plain_part(seg: MessageSegment) -> str | None:
    """A segment as the model reads it: text as its words, a face as its name, anything
    else it cannot see as its note (`bot.qq.segments`); None for @s, records and kinds
    no implementation posts, which each reader reads its way."""
    if seg.type == "text" and isinstance(seg.data.get("text"), str):
        return str(seg.data["text"])
    if seg.type == "face":
        return face_text(seg)
    note = segment_note(seg)
    return note.text if note is not None else None

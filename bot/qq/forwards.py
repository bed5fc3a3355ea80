"""A forwarded chat record (合并转发, a `forward` segment) as text for the model.

NapCat sends the record's messages inline (`data.content`, each a message report); read
so, the record is "name: text" a line, as Discord reads a forwarded message as the text
it forwards. go-cqhttp and Lagrange send only the record's id (fetching it would be one
more call per record): the model is told a record was sent that it cannot see.
"""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines
from bot.qq.faces import face_text
from bot.qq.text import defang, inline_record
from bot.quoting import MAX_NAME_CHARS, cut


def record_text(segment: MessageSegment) -> str:
    """The note the model reads for a forwarded record, at most `MAX_INPUT_CHARS` of it."""
    record = inline_record(segment)
    if record is None:
        return lines().forward_unread_note
    lines_read = [line for item in record if (line := _message_line(item))]
    if not lines_read:
        return lines().forward_unread_note
    text = "\n".join(lines_read)
    room = MAX_INPUT_CHARS - len(lines().forward_note.format(record=""))
    return lines().forward_note.format(record=text[: max(room, 0)])


def _message_line(item: Any) -> str:
    """One forwarded message as "name: text"; "" for one with nothing to read."""
    if not isinstance(item, dict):
        return ""
    text = defang(segments_text(_as_message(item.get("message")))).strip()
    if not text:
        return ""
    sender: Any = item.get("sender")
    if not isinstance(sender, dict):
        sender = {}
    name = sender.get("card") or sender.get("nickname") or sender.get("user_id") or "?"
    return f"{cut(defang(str(name)), MAX_NAME_CHARS)}: {text}"


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


def segments_text(message: Message) -> str:
    """What someone else's message said, read without asking QQ anything: text, "@name"
    (the name sent with the @, else the QQ number), a picture's note, a face's name; a
    record inside it is only noted (records nest)."""
    parts = []
    for seg in message:
        if seg.type == "text" and isinstance(seg.data.get("text"), str):
            parts.append(seg.data["text"])
        elif seg.type == "image":
            parts.append(lines().picture_note)
        elif seg.type == "face":
            parts.append(face_text(seg))
        elif seg.type == "forward":
            parts.append(lines().forward_unread_note)
        elif seg.type == "at":
            target = str(seg.data.get("qq", ""))
            name = seg.data.get("name")
            who = name if isinstance(name, str) and name.strip() else target
            parts.append("@全体成员" if target == "all" else f"@{who.strip().lstrip('@')}")
    return "".join(parts)

"""Text in and out of QQ: what a user said, and ATRI's reply as safe OneBot v11 messages.

A reply is only ever text segments (plus the quote and the @ the plugin adds), so the
model cannot ping everyone, send images or forward messages, whatever it writes:
NoneBot sends segments as JSON data, and escapes text if they are ever written out as
CQ codes. On top of that, CQ-code look-alikes and "@全体成员" are defanged, so a OneBot
implementation that re-parses text, or a reader, never sees a live one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.lines import spoken_language
from bot.splitting import WEB_ADDRESS, hard_cut, split_message

# What ends a reply cut off at `max_reply_parts`, in the language she speaks: "……" read
# as her own ellipsis in an English reply.
CUT_MARKS = {"zh": "……", "ja": "……", "en": "..."}
CUT_MARK = CUT_MARKS["zh"]
_NOT_MEDIA = {"text", "at", "reply"}

_CQ_CODE = re.compile(r"\[(?=\s*CQ\s*:)", re.IGNORECASE)
# A CQ-code look-alike as `defang` leaves it ("［CQ:face,id=1]").
_CQ_LOOKALIKE = re.compile(r"［\s*CQ\s*:", re.IGNORECASE)
# A word of Latin letters or digits ("don't", "x2"), which a cut should not split in two.
# Tried only where a word starts, and never given back: searched from every letter, a
# long word not at the end was read again from each (quadratic in a part's length).
_LATIN_WORD_END = re.compile(r"(?<![A-Za-z0-9'’])[A-Za-z0-9'’]++$")
_LATIN_WORD_CHAR = re.compile(r"[A-Za-z0-9'’]")
# A link: its scheme, ://, and every character up to a blank. A cut inside one leaves a
# link that looks whole but leads nowhere (…/blob/ma……), so it goes whole or not at all.
# Tried only where a run of scheme characters starts (the link begins at its first letter),
# the run never given back (":" is not in it): tried at each letter of a long word, each
# try read the word to its end (quadratic in a part's length).
_URL = re.compile(r"(?<![A-Za-z0-9+.-])[0-9+.-]*+(?P<link>[A-Za-z][A-Za-z0-9+.-]*+://\S*)")
# How far back a cut moves for either; past it (a run of nothing else) it stays.
_MAX_CUT_BACK = 100
# 全員 is how a Japanese group reads @all (`bot.lines.spoken_language`): defanged alike.
_AT_ALL = re.compile(r"@(?=\s*(?:全体成员|全體成員|全員|all\b|everyone\b))", re.IGNORECASE)


def defang(text: str) -> str:
    """Model output as plain text: no CQ code, no @everyone, however it is read; but a
    link or an email address ("x@all.example") stays as written, to be copied."""
    text = _CQ_CODE.sub("［", text)
    kept = [m.span() for m in WEB_ADDRESS.finditer(text)]

    def defanged(match: re.Match[str]) -> str:
        return "@" if any(start < match.start() < end for start, end in kept) else "＠"

    return _AT_ALL.sub(defanged, text)


def incoming_text(message: Message) -> str:
    """What the user wrote: the text segments, joined; anything malformed is skipped."""
    parts = []
    for segment in message:
        if segment.type == "text":
            text = segment.data.get("text")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts).strip()


def command_words(message: Message) -> list[str]:
    """The words of a command after its name: blanks of any kind and invisible format
    characters (a zero-width space a client or a copied web page put in) part them, so
    `reset` followed by U+200B is still `reset`."""
    text = incoming_text(message)
    return "".join(" " if unicodedata.category(c) == "Cf" else c for c in text).split()


def drop_unfetched_quote(message: Message, self_id: str) -> bool:
    """Remove a quote (`reply` segment) left at the start of a message because the adapter
    could not fetch the quoted message (NoneBot's `get_msg` failed: the protocol end no
    longer holds it), with the @ QQ puts after it when that @ is hers and the blank that
    follows, as the adapter does when the fetch works; without this a quoted
    `/atri reset` is not a command. True when that @ was hers: a reply to her."""
    if not message or message[0].type != "reply":
        return False
    del message[0]
    to_her = bool(message) and message[0].type == "at" and str(message[0].data.get("qq")) == self_id
    if to_her:
        del message[0]
    if message and message[0].type == "text" and isinstance(message[0].data.get("text"), str):
        message[0].data["text"] = message[0].data["text"].lstrip()
        if not message[0].data["text"]:
            del message[0]
    if not message:
        message.append(MessageSegment.text(""))
    return to_her


def only_media(message: Message) -> bool:
    """True when the message carries something (a picture, a face, a forwarded record
    sent without its messages…) but no words; a record sent with them is words."""
    if any(seg.type == "forward" and inline_record(seg) for seg in message):
        return False
    return any(seg.type not in _NOT_MEDIA for seg in message) and not incoming_text(message)


def media_kinds(message: Message) -> set[str]:
    """The kinds of the message's segments that are no words, @ or quote ("image", "record")."""
    return {seg.type for seg in message if seg.type not in _NOT_MEDIA}


def only_unread_record(message: Message) -> bool:
    """Media only, and among it a forwarded record sent as an id (go-cqhttp, Lagrange)."""
    return only_media(message) and any(seg.type == "forward" for seg in message)


def inline_record(segment: MessageSegment) -> list[Any] | None:
    """A forwarded record's messages when they came with it (NapCat's `data.content`);
    None when only its id did (go-cqhttp, Lagrange)."""
    content = segment.data.get("content")
    return content if isinstance(content, list) and content else None


class ReplyParts(NamedTuple):
    parts: list[str]
    # Past max_parts: the rest never goes out, so memory must keep only these parts.
    cut_off: bool


def cut_mark(language: str | None = None) -> str:
    """The cut mark in `language`, or in the language she speaks now."""
    return CUT_MARKS.get(language or spoken_language(), CUT_MARK)


def split_reply(text: str, limit: int, max_parts: int, mark: str | None = None) -> ReplyParts:
    """The reply, defanged and split at sentence ends; past max_parts it is cut off,
    its last part ending in `mark` (`cut_mark()`: the language she speaks)."""
    safe = defang(text)
    parts = split_message(safe, limit)
    if len(parts) <= max_parts:
        return ReplyParts(parts, cut_off=False)
    mark = cut_mark() if mark is None else mark
    last, dropped = parts[max_parts - 1], parts[max_parts]
    parts = parts[:max_parts]
    room = min(limit - len(mark), len(last))
    if (last + dropped[:1]) in safe:
        # The split itself fell inside a word or a link (a long one, or no blank before
        # it): read on into the part dropped to see where it ends.
        last += dropped
    parts[-1] = last[: _cut_before_mark(last, room)].rstrip() + mark
    return ReplyParts(parts, cut_off=True)


def _cut_before_mark(part: str, room: int) -> int:
    """Where the last part ends before the cut mark: within `room`, not inside an emoji
    or a character of several code points (`hard_cut`), a CQ-code look-alike or a word
    of Latin letters, nor inside a link (left out whole, however long); where only one
    such thing fills the room, hard at its end."""
    cut = hard_cut(part, room)
    if cut >= len(part):
        return cut
    link = _link_across(part, cut)
    if link is not None and link > 0:
        return link
    earliest = max(1, cut - _MAX_CUT_BACK)
    kept = part[:cut]
    opened = kept.rfind("［")
    if opened >= earliest and "]" not in kept[opened:] and _CQ_LOOKALIKE.match(part, opened):
        return opened
    word = _LATIN_WORD_END.search(kept)
    if word is not None and _LATIN_WORD_CHAR.match(part[cut]) and word.start() >= earliest:
        return word.start()
    return cut


def _link_across(part: str, cut: int) -> int | None:
    """Where the link that `cut` falls inside starts (https://……), if it falls in one."""
    for link in _URL.finditer(part):
        if link.start("link") < cut < link.end():
            return link.start("link")
        if link.start("link") >= cut:
            break
    return None


def reply_parts(text: str, limit: int, max_parts: int) -> list[str]:
    """The parts of split_reply, for a caller that stores nothing."""
    return split_reply(text, limit, max_parts).parts


def text_message(text: str) -> Message:
    """One text segment: NoneBot never parses it for CQ codes (a str would be)."""
    return Message(MessageSegment.text(text))

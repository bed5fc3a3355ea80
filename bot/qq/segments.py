"""What a QQ message carries beside its words, @s, faces, quotes and forwarded records,
as a short note for the model (in the bots' language, `bot.lines`), as Discord's notes
for stickers and attachments: she reads "（分享了卡片：哔哩哔哩：【中字】…）这个好笑吗",
not a question about nothing.

The segments the OneBot v11 implementations people run post, as each sends them:

- `image`: a picture or a sticker. NapCat: `summary` ("[动画表情]" for a sticker, the
  shop sticker's name "[嘿嘿]" for a 商城表情, which then carries `emoji_id` and `key`)
  and `sub_type` (1: a sticker); go-cqhttp and Lagrange only `file` and `url`.
- `mface` (商城表情): LLOneBot and Lagrange, its name in `summary` ("[嘿嘿]"); Lagrange's
  older `marketface` the same. go-cqhttp sends one as text ("[嘿嘿]"): words already.
- `record` (a voice message), `video`: only a file reference.
- `file`: its name in `file` (NapCat, LLOneBot) or `file_name` (Lagrange); NapCat's
  `onlinefile` (在线文件, a file or folder sent online) in `fileName`, its `flashtransfer`
  (QQ闪传) none.
- `json`: a mini-app or share card, its JSON as a string in `data.data` (every one of
  them; NapCat's `miniapp` the same); `xml`: an older card, its XML in `data.data`
  (go-cqhttp, Lagrange).
- `dice`, `rps`: NapCat and LLOneBot post the result as `result` (a die 1-6; 1 布,
  2 剪刀, 3 石头), go-cqhttp as `value` (a die 1-6; 0 石头, 1 剪刀, 2 布), Lagrange none.
- `markdown` (`content`), and OneBot v11's own `share` (`title`, `content`),
  `location` (`title`, `content`), `music` (`title` for a custom one), `contact`;
  NapCat's `poke` inside a private message.

A card is read as a member sees it: its title and description ("哔哩哔哩：<the video's
title>"), else the line QQ shows for it in the chat list (`prompt`), never its JSON.
Everything read is cut, defanged (no CQ code, no live @全体成员) and on one line; a card
too long, too deep or malformed is one that cannot be read.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.lines import lines
from bot.qq.text import defang, media_kinds, only_media
from bot.quoting import MAX_NAME_CHARS, MAX_QUOTE_CHARS, cut
from model.protocol import first_visible_name, visible_name

# A card's JSON or XML longer than this is not read (a real one is a few kilobytes).
MAX_CARD_CHARS = 64_000
# Each of a card's fields; the whole note is at most MAX_QUOTE_CHARS.
MAX_FIELD_CHARS = 100
MAX_FILENAME_CHARS = 80
# How many of a card's `meta` entries are looked into (a real card has one).
MAX_META_ENTRIES = 4
# What QQ shows for a picture or sticker that has no name of its own.
UNNAMED = {"", "图片", "动画表情", "表情", "商城表情", "闪照", "image", "sticker"}
# The fields that hold what a member sees on a card, by the kinds of card QQ sends.
CARD_FIELDS = ("title", "desc", "name", "address")
# NapCat's and LLOneBot's `result` (NTQQ) and go-cqhttp's `value` (MiraiGo): indexes into
# `rps_hands` (rock, scissors, paper).
NTQQ_HANDS = {"1": 2, "2": 1, "3": 0}
MIRAI_HANDS = {"0": 0, "1": 1, "2": 2}
_XML_TAG = re.compile(r"<[^>]*>")
_BRIEF = re.compile(r"\bbrief=\"([^\"]*)\"")
# Between a card's title and description, as QQ shows them one under the other.
CARD_JOIN = " - "


class Note(NamedTuple):
    text: str
    # It says something a reply can take up (a card, even one she cannot read, a file, a
    # roll), not only that a picture, a sticker or a voice message came.
    tells: bool


def segment_note(segment: MessageSegment) -> Note | None:
    """The note for a segment the model cannot see; None for words, @s, quotes, faces,
    records (each read its own way) and for kinds no implementation posts."""
    reader = _READERS.get(segment.type)
    if reader is None:
        return None
    data = segment.data if isinstance(segment.data, dict) else {}
    return reader(data)


def tells(segment: MessageSegment) -> bool:
    note = segment_note(segment)
    return note is not None and note.tells


def nothing_to_read(message: Message) -> bool:
    """No words, and nothing a note could tell the model more of than that a picture,
    a sticker, a face, a voice message or a video came: her line (`media_only_line`)
    answers it (the model could only pretend to have seen it). A card, a file or a roll
    is read."""
    return only_media(message) and not any(tells(seg) for seg in message)


def media_only_line(message: Message) -> str:
    """Her line for a message `nothing_to_read` holds: a voice message or a video alone is
    one she cannot listen to or watch (`media_only` says pictures and stickers, and
    answered a voice message as if it were one), anything else one she cannot see."""
    kinds = media_kinds(message)
    if kinds == {"record"}:
        return lines().voice_only
    if kinds == {"video"}:
        return lines().video_only
    return lines().media_only


def _clean(value: Any, limit: int = MAX_FIELD_CHARS) -> str:
    """Text from a segment as the model may read it: a string only, defanged, on one
    line, at most `limit` characters."""
    if not isinstance(value, str):
        return ""
    return cut(defang(value), limit).strip()


def _sticker_name(summary: Any) -> str:
    """A sticker's name from QQ's summary ("[嘿嘿]" is 嘿嘿); "" when it names none."""
    if not isinstance(summary, str):
        return ""
    name = summary.strip().strip("[]").strip()
    if name in UNNAMED or len(name) > MAX_NAME_CHARS:
        return ""
    return _clean(name, MAX_NAME_CHARS)


def _sticker(name: str) -> Note:
    if name:
        return Note(lines().emoticon_note.format(sticker=name), tells=False)
    return Note(lines().face_note, tells=False)


def _image(data: dict[str, Any]) -> Note:
    """A picture, or a sticker (NapCat's `sub_type` 1, or a shop sticker's `emoji_id`)."""
    summary = data.get("summary")
    sticker = data.get("sub_type") in (1, "1") or "emoji_id" in data
    said = summary.strip().strip("[]") if isinstance(summary, str) else ""
    if sticker or said in ("动画表情", "商城表情"):
        return _sticker(_sticker_name(summary))
    return Note(lines().picture_note, tells=False)


def _market_face(data: dict[str, Any]) -> Note:
    return _sticker(_sticker_name(data.get("summary")))


def _voice(data: dict[str, Any]) -> Note:
    return Note(lines().voice_note, tells=False)


def _video(data: dict[str, Any]) -> Note:
    return Note(lines().video_note, tells=False)


def _file(data: dict[str, Any]) -> Note:
    """A file by its name (a path's last part only), without invisible controls: a
    right-to-left override (U+202E) between "photo" and "gnp.exe" shows "photoexe.png"
    (`visible_name`; cleaned again after the cut)."""
    for key in ("name", "file_name", "file", "fileName"):
        raw = data.get(key)
        if isinstance(raw, str):
            last = visible_name(re.split(r"[\\/]", raw)[-1])
            name = first_visible_name(_clean(last, MAX_FILENAME_CHARS))
            if name:
                return Note(lines().attachment_note.format(filename=name), tells=True)
    # Nameless (a QQ闪传, a name that is no string), it is still a file: no picture line.
    return Note(lines().attachment_note.format(filename="?"), tells=True)


def _card(words: list[str]) -> Note:
    """A card's visible words, or that one came that cannot be read: a card still, which
    alone is answered as its note, not with her line for pictures and stickers."""
    shown = [word for index, word in enumerate(words) if word and word not in words[:index]]
    if not shown:
        return Note(lines().card_unread_note, tells=True)
    return Note(
        lines().card_note.format(title=cut(CARD_JOIN.join(shown), MAX_QUOTE_CHARS)), tells=True
    )


def _json_card(data: dict[str, Any]) -> Note:
    card = _parsed(data.get("data"))
    if card is None:
        return _card([])
    return _card(_card_words(card))


def _parsed(raw: Any) -> dict[str, Any] | None:
    """The card's JSON object; None when it is none, too long or too deep to read."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or len(raw) > MAX_CARD_CHARS:
        return None
    try:
        card = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return card if isinstance(card, dict) else None


def _card_words(card: dict[str, Any]) -> list[str]:
    """What a member sees on the card: the first `meta` entry's title and description
    (a mini-app: its name and the shared item's title; a link: the page's title and
    summary; a location: the place and its address), else QQ's own line for it."""
    meta = card.get("meta")
    entries = list(meta.values())[:MAX_META_ENTRIES] if isinstance(meta, dict) else []
    for entry in entries:
        if isinstance(entry, dict):
            words = [_clean(entry.get(key)) for key in CARD_FIELDS]
            words = [word for word in words if word][:2]
            if words:
                return words
    return [_clean(card.get("prompt")) or _clean(card.get("desc"))]


def _xml_card(data: dict[str, Any]) -> Note:
    """An XML card by its `<title>` and `<summary>`, else its `brief` (the chat list's line)."""
    raw = data.get("data")
    if not isinstance(raw, str) or len(raw) > MAX_CARD_CHARS:
        return _card([])
    words = [_xml_text(_xml_element(raw, tag)) for tag in ("title", "summary")]
    if not any(words):
        brief = _BRIEF.search(raw)
        words = [_xml_text(brief.group(1)) if brief else ""]
    return _card(words)


def _xml_element(raw: str, tag: str) -> str:
    """The first `<tag …>…</tag>`'s inside, found by plain search: a pattern over a hostile
    card could take time growing with the square of its length."""
    start = raw.find(f"<{tag}")
    opened = raw.find(">", start) if start >= 0 else -1
    closed = raw.find(f"</{tag}>", opened) if opened >= 0 else -1
    return raw[opened + 1 : closed] if closed >= 0 else ""


def _xml_text(inner: str) -> str:
    """An XML element's words, its own tags and entities undone (a bounded part of it)."""
    return _clean(html.unescape(_XML_TAG.sub("", inner[: 4 * MAX_FIELD_CHARS])))


def _share(data: dict[str, Any]) -> Note:
    return _card([_clean(data.get("title")), _clean(data.get("content"))])


def _location(data: dict[str, Any]) -> Note:
    place = CARD_JOIN.join(w for w in (_clean(data.get("title")), _clean(data.get("content"))) if w)
    if not place:
        return _card([])
    return Note(lines().location_note.format(place=cut(place, MAX_QUOTE_CHARS)), tells=True)


def _markdown(data: dict[str, Any]) -> Note:
    return _card([_clean(data.get("content"), MAX_QUOTE_CHARS)])


def _unread_card(data: dict[str, Any]) -> Note:
    return _card([])


def _result(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value).strip() if isinstance(value, str | int) else ""


def _dice(data: dict[str, Any]) -> Note:
    rolled = _result(data, "result") or _result(data, "value")
    if rolled in {"1", "2", "3", "4", "5", "6"}:
        return Note(lines().dice_note.format(result=rolled), tells=True)
    return Note(lines().dice_unread_note, tells=True)


def _rps(data: dict[str, Any]) -> Note:
    hands = lines().rps_hands.split()
    index = NTQQ_HANDS.get(_result(data, "result"), MIRAI_HANDS.get(_result(data, "value")))
    if index is None or index >= len(hands):
        return Note(lines().rps_unread_note, tells=True)
    return Note(lines().rps_note.format(hand=hands[index]), tells=True)


def _poke(data: dict[str, Any]) -> Note:
    # A poke alone is answered as a poke (`poke_of`, `answer_poke`): beside words, this
    # note tells no more.
    return Note(lines().poke_note, tells=False)


def poke_of(message: Message, account: str) -> bool:
    """A message that is only a poke (blanks aside) of `account`. NapCat posts a poke in
    a private chat as a message holding a `poke` segment (its `type` and `id` are the
    kind of poke, no target), besides the poke notice; a segment naming its target
    (`qq`, as LLOneBot's does) is hers only when it names `account`."""
    pokes = [seg for seg in message if seg.type == "poke"]
    others = [
        seg
        for seg in message
        if seg.type != "poke"
        and not (seg.type == "text" and not str(seg.data.get("text", "")).strip())
    ]
    if not pokes or others:
        return False
    data = [seg.data if isinstance(seg.data, dict) else {} for seg in pokes]
    targets = {str(d["qq"]) for d in data if d.get("qq") not in (None, "")}
    return targets <= {account}


_READERS: dict[str, Callable[[dict[str, Any]], Note]] = {
    "image": _image,
    "mface": _market_face,
    "marketface": _market_face,
    "record": _voice,
    "video": _video,
    "file": _file,
    "onlinefile": _file,
    "flashtransfer": _file,
    "json": _json_card,
    "miniapp": _json_card,
    "xml": _xml_card,
    "share": _share,
    "music": _share,
    "location": _location,
    "markdown": _markdown,
    "contact": _unread_card,
    "dice": _dice,
    "rps": _rps,
    "poke": _poke,
}

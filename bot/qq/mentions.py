"""@s inside a QQ message: one of her anywhere addresses her; other people's stay as names.

NoneBot's OneBot adapter only sees an @ of the bot at the start or the end of a message
(`to_me`); people also write "今天 @亚托莉 你觉得呢". Other people's @s would vanish from
the text the model reads; they become "@name" instead: the name the at segment carries
(NapCat sends it), else the group card or nickname (`get_group_member_info`), else the
QQ number. A lookup the connection's drop cuts off ends at once (not after NoneBot's
`api_timeout`, 30 s, while the message waits) and is not remembered.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Literal

from nonebot.adapters.onebot.v11 import (
    Bot,
    GroupMessageEvent,
    Message,
    MessageEvent,
)

from bot.commands import folded
from bot.qq.connections import Connections
from bot.qq.forwards import at_all_said, plain_part, record_text
from bot.qq.segments import tells
from bot.qq.text import inline_record
from bot.quoting import at_name
from model.protocol import first_visible_name

log = logging.getLogger(__name__)

AT_ALL = "all"
# Names looked up lately: with room context every group message is read, and an
# implementation that sends no name with its @s would cost one API call per @.
NAME_CACHE_SIZE = 2048
NAME_CACHE_SECONDS = 600.0
# Lookups one message may ask for: a message of a hundred @s of strangers would otherwise
# be a hundred calls in a row to the OneBot implementation (and QQ's rate control behind
# it). Past these, a name not remembered is shown as the QQ number.
MAX_LOOKUPS_PER_MESSAGE = 5
_names: OrderedDict[tuple[int, str], tuple[str, float]] = OrderedDict()
_clock = time.monotonic  # tests move it forward
# What sets her name apart from the words after it, the same in every language (compared
# `folded`: the full-width ，！？ and the half-width ､ too): a blank, a comma
# ("亚托莉，早上好"), the Japanese 、 ("アトリ、おはよう"), ! or ? ("アトリ！おはよう").
NAME_APART = frozenset(",、!?")
# How a message begins with one of her names (`read_her_name`).
NameCall = Literal["apart", "runs on", "longer word"]


def mentions_her(event: MessageEvent) -> bool:
    """An @ of this account anywhere in the message."""
    me = str(event.self_id)
    return any(seg.type == "at" and str(seg.data.get("qq", "")) == me for seg in event.message)


def _script(char: str) -> str | None:
    """The kind of letters a word runs on in: katakana (アトリ + エ is アトリエ), or an
    alphabet's letters and digits (ATRI + UM is ATRIUM). Han characters and hiragana
    run on from a name as words of their own (亚托莉酱, アトリは)."""
    if char in "\u30fb\uff65":  # the middle dot between words of a name
        return None
    if "\u30a0" <= char <= "\u30ff" or "\uff66" <= char <= "\uff9f":
        return "katakana"
    if char.isalnum() and ord(char) < 0x2E80:
        return "alphabet"
    return None


def _first_words(message: Message) -> str | None:
    """The text NoneBot's nickname check reads: the first words after any quote and @s."""
    for seg in message:
        if seg.type in ("reply", "at"):
            continue
        text = seg.data.get("text") if seg.type == "text" else None
        if not isinstance(text, str):
            return None
        if text.strip():
            return text.lstrip()
    return None


def name_at_start(said: str, names: Iterable[str]) -> int:
    """How many characters at the start of `said` are one of her `names` (the longest
    found), compared `folded`: ＡＴＲＩ is ATRI, ｱﾄﾘ アトリ; 0: none. A character that NFKC
    joins to the one before it (ｶ and ﾞ are ガ) is not cut from it."""
    found = 0
    for name in names:
        target = folded(name)
        # NFKC joins at most two characters into one (a half-width kana and its mark).
        for end in range(1, min(len(said), 2 * len(target)) + 1):
            if folded(said[:end]) == target and folded(said[: end + 1]).startswith(target):
                found = max(found, end)
                break
    return found


def read_her_name(event: MessageEvent, names: Iterable[str]) -> NameCall | None:
    """NoneBot's nickname check, made again on the message's first words (`event.message`
    holds what is left after it). NoneBot compares the names as written, so ＡＴＲＩ or
    ｱﾄﾘ (an input method's widths) did not call her, and cuts a leading name followed by
    a blank or comma only with them: "アトリ、記憶をリセット" reached her as "アトリ、…",
    her reset keyword unseen. Here a name set apart (`NAME_APART`) is cut with what sets
    it apart ("apart"). A name running on into the sentence stays in it: "亚托莉的主人是谁"
    reached her as "的主人是谁", "アトリちゃん元気？" as "ちゃん元気？" ("runs on"), unless it
    only began a longer word: "アトリエシリーズ最高" (the Atelier games) was "エシリーズ最高",
    "ATRIUM 很漂亮" "UM 很漂亮" ("longer word": `to_me` is then the caller's to settle).
    None: no name first."""
    if not event.message or event.message[0].type != "text":
        return None
    left = event.message[0].data.get("text")
    said = _first_words(event.original_message)
    # A blank `left`: NoneBot cut the name and nothing followed it (the name alone).
    if not isinstance(left, str) or not left.strip() or said is None:
        return None
    if not said.endswith(left.lstrip()):
        return None  # not the same words: the first text is elsewhere
    end = name_at_start(said, names)
    if not end:
        return None
    rest = said[end:]
    cut = 0
    while cut < len(rest) and (rest[cut].isspace() or folded(rest[cut]) in NAME_APART):
        cut += 1
    if cut or not rest:
        event.message[0].data["text"] = rest[cut:]
        return "apart"
    event.message[0].data["text"] = said
    kind = _script(folded(said[:end])[-1])
    return "longer word" if kind is not None and kind == _script(folded(rest[0])[:1]) else "runs on"


def at_her_in(message: Message, self_id: str) -> bool:
    """An @ of this account anywhere in `message` (the original one: NoneBot drops an @
    of her at the start or end of `event.message`)."""
    return any(seg.type == "at" and str(seg.data.get("qq", "")) == self_id for seg in message)


def remembered_name(group_id: int, user_id: str) -> str | None:
    """The name looked up lately, or None."""
    known = _names.get((group_id, user_id))
    if known is not None and _clock() - known[1] < NAME_CACHE_SECONDS:
        return known[0]
    return None


async def member_name(bot: Bot, group_id: int, user_id: str, connections: Connections) -> str:
    """The group card, else the nickname, else the QQ number (remembered a while)."""
    known = remembered_name(group_id, user_id)
    if known is not None:
        return known
    key = (group_id, user_id)
    name = await _look_up(bot, group_id, user_id, connections)
    if name is None:  # the connection dropped: the next message asks again
        return user_id
    _names[key] = (name, _clock())
    _names.move_to_end(key)
    while len(_names) > NAME_CACHE_SIZE:
        _names.popitem(last=False)
    return name


async def _look_up(bot: Bot, group_id: int, user_id: str, connections: Connections) -> str | None:
    """The name to remember; None when the connection dropped before an answer."""
    try:
        info: Any = await connections.call(
            bot, lambda: bot.get_group_member_info(group_id=group_id, user_id=int(user_id))
        )
    except Exception as exc:  # not a member any more, or not offered
        log.debug("QQ: no member info for %s in %s: %s", user_id, group_id, exc)
        return None if connections.lost(bot).is_set() else user_id
    if isinstance(info, dict):
        return first_visible_name(info.get("card"), info.get("nickname"), fallback=user_id)
    return user_id


def _at_target(qq: Any) -> str:
    """Whom an @ names (a QQ number, or "all"); "" for a `qq` of the wrong kind (null, a
    list), which would read as "@None"."""
    return str(qq) if isinstance(qq, str | int) and not isinstance(qq, bool) else ""


async def spoken_text(bot: Bot, event: MessageEvent, connections: Connections) -> str:
    """The words of the message, her own @s dropped and other @s as "@name", and a note
    where a picture, a sticker, a voice message, a file or a shared card was (the model
    sees none of them; "看这个" alone reads as nonsense). A message with nothing but
    pictures, stickers, faces or voice stays "" (answered, or not, before this); a card,
    a file or a roll alone is its note (`bot.qq.segments`).
    A QQ face is its name ("[流泪]"): beside words it is their tone. A forwarded record
    sent with its messages (or fetched for them: `fetch_record`) is read as them;
    one sent as an id only is noted."""
    me = str(event.self_id)
    parts: list[str] = []
    said = False  # words or someone's @: a picture's note alone is not
    lookups = 0
    for seg in event.message:
        shown = plain_part(seg)
        if shown is not None:
            parts.append(shown)
            # Words say something, and so does a card's title, a file's name or a roll; a
            # picture's, a sticker's or a voice message's note or a face's name alone do not.
            said = said or (seg.type == "text" and bool(shown.strip())) or tells(seg)
        elif seg.type == "forward":
            parts.append(record_text(seg))
            said = said or inline_record(seg) is not None
        elif seg.type == "at":
            target = _at_target(seg.data.get("qq"))
            if target == me or not target:
                continue
            if target == AT_ALL:
                parts.append(at_all_said())
                said = True
                continue
            name = at_name(seg.data.get("name"))
            if not name:
                name = target
                if isinstance(event, GroupMessageEvent) and target.isdigit():
                    known = remembered_name(event.group_id, target)
                    if known is not None:
                        name = known
                    elif lookups < MAX_LOOKUPS_PER_MESSAGE:
                        lookups += 1
                        name = await member_name(bot, event.group_id, target, connections)
            parts.append(f"@{at_name(name) or target}")
            said = True
    return "".join(parts).strip() if said else ""

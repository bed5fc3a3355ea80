"""A game's own name tags (`[cn name="夏生"]`, `@say name=…`, `[talk name=… voice=…]`, a
macro made in TJS or in a file not given): the calls that may name a speaker, over every
.ks file given (`NameCalls`), and the tags learnt from them, those whose calls give one of
the aliases (`name_tags`), by which the reader names a message's speaker
(`Reader.name_call`); `parser.unlearnt_name_calls` names the tags never learnt.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from dataprep.formats.kirikiri.macros import MACRO_KEY
from dataprep.formats.kirikiri.syntax import VALUE, unquoted
from dataprep.formats.kirikiri.tags import (
    COMMAND_ATTRIBUTES,
    NAME_ATTRIBUTES,
    OWN_TAGS,
    OWN_TEXT_TAGS,
    READER_TAGS,
)

NAME_ATTRIBUTE_SET = frozenset(NAME_ATTRIBUTES)
# The name attribute of a tag whose own name says it shows a name (`[namebox text="凉子"]`,
# BKEngine's), where any other tag's `text` is what it shows of a line (`[say text=…]`).
NAMED_TEXT = "text"


def name_attributes(tag: str) -> tuple[str, ...]:
    """The attributes that may give a speaker's name in a call of `tag`, first first:
    `NAME_ATTRIBUTES`, and `text` after them when the tag's name holds "name"."""
    return (*NAME_ATTRIBUTES, NAMED_TEXT) if "name" in tag.lower() else NAME_ATTRIBUTES


# KAG's and TyranoScript's own tags taking a `name=` that is no speaker: a character's id
# or an object's class (`[chara_show name=akane]`, `[anim name=akane left=+=100]`,
# `[ptext name=title]`), a form's variable, a plugin, the window's title.
_OWN_NAMED_TAGS = frozenset(
    {
        "anim", "bg2", "bgcamera", "button", "checkbox", "checkpoint", "clear_checkpoint",
        "clearfix", "clickable", "dialog", "edit", "filter", "free", "free_filter",
        "free_layermode", "glink", "glyph", "image", "kanim", "keyframe", "lang_set",
        "layermode", "layermode_movie", "loading_log", "mask", "mtext", "plugin", "popopo",
        "preload", "ptext", "stop_kanim", "stop_xanim", "stopanim", "title", "unload",
        "voconfig", "wait_preload", "xanim",
    }
)  # fmt: skip
_OWN_NAMED_PREFIXES = ("chara_", "3d_", "vchat_", "fuki_")
# Attributes of a call that is no name tag's, whatever its name attribute says: a
# command's, and where a tag puts what it shows on the stage (`@appear name=光凛
# height=1200`, a library's character macro) or the file it shows.
NOT_NAME_TAG_ATTRIBUTES = COMMAND_ATTRIBUTES | {
    "storage", "left", "top", "width", "height", "x", "y", "pos", "zindex",
}  # fmt: skip
# A call of a tag no reader rule acts on (never the reader's own name tags, the most
# called: `[nm t=…]`) with a name attribute and none of `NOT_NAME_TAG_ATTRIBUTES`, in
# brackets or on an `@` line (after a line end: the text is read after a "\n"): its tag,
# and its first name attribute and value (`NameCalls`). Two patterns, each opening with
# one character, which the search skips to at once; the tag's body is scanned in C.
_NAME_CALL_TAIL = (
    r"[ \t]*+(?!(?:nm|name|chara_\w*)[ \t\]])([^\s\[\]=@]++)"
    rf"(?=[ \t][^\]\n]*?(?<![\w-])(?i:{'|'.join(NAME_ATTRIBUTES)})[ \t]*+=)"
    rf"(?![^\]\n]*?(?<![\w-])(?i:{'|'.join(sorted(NOT_NAME_TAG_ATTRIBUTES))})[ \t]*+=)"
    rf"[ \t][^\]\n]*?(?<![\w-])(?i:({'|'.join(NAME_ATTRIBUTES)}))[ \t]*+=[ \t]*+{VALUE}"
)
# BKEngine's `[namebox text="凉子"]`: a tag whose name holds "name" gives it in `text`
# (`name_attributes`); the same call's tail for that attribute.
_NAMED_TEXT_CALL_TAIL = (
    r"[ \t]*+([^\s\[\]=@]*?(?i:name)[^\s\[\]=@]*+)"
    rf"(?![^\]\n]*?(?<![\w-])(?i:{'|'.join(NAME_ATTRIBUTES)})[ \t]*+=)"
    rf"(?![^\]\n]*?(?<![\w-])(?i:{'|'.join(sorted(NOT_NAME_TAG_ATTRIBUTES - {NAMED_TEXT}))})[ \t]*+=)"
    rf"[ \t][^\]\n]*?(?<![\w-])(?i:({NAMED_TEXT}))[ \t]*+=[ \t]*+{VALUE}"
)
_NAME_CALLS = (
    re.compile(r"\[" + _NAME_CALL_TAIL),
    re.compile(r"\n[ \t]*+@" + _NAME_CALL_TAIL),
    re.compile(r"\[" + _NAMED_TEXT_CALL_TAIL),
    re.compile(r"\n[ \t]*+@" + _NAMED_TEXT_CALL_TAIL),
)
# The reader's own ways of naming a message's speaker, but `【名】` (`NameCalls.named`):
# `[nm]`, `[name]`, `[chara_ptext]` in brackets or on an `@` line, and `#` lines.
_OWN_NAMING_TAGS = r"(?i:nm|name|chara_ptext)[ \t\]\n]"
_OWN_NAMINGS = (
    re.compile(r"\[[ \t]*+" + _OWN_NAMING_TAGS),
    re.compile(r"\n[ \t]*+(?:#|@[ \t]*+" + _OWN_NAMING_TAGS + ")"),
)
# Tags never a game's own name tag (`name_tags`).
_NOT_NAME_TAGS = READER_TAGS | OWN_TAGS | OWN_TEXT_TAGS | _OWN_NAMED_TAGS


class NameCalls:
    """What `name_tags` learns a game's own name tags from, over every .ks file given
    (`add`): the calls that may name a speaker, and how many messages the files name the
    reader's own ways. Each distinct call is read once: a game calls its name tag
    thousands of times, with a few names."""

    def __init__(self) -> None:
        # (tag, attribute, value) → how many calls: of a tag neither KAG's, TyranoScript's
        # nor the reader's own (`_NOT_NAME_TAGS`), with a name attribute (the first it
        # has, `NAME_ATTRIBUTES`) and no command's nor the stage's.
        self.calls: Counter[tuple[str, str, str]] = Counter()
        # How many `[nm]`, `[name]`, `[chara_ptext]`, `#` lines and `【` the files have.
        self.named = 0

    def add(self, text: str) -> None:
        text = "\n" + text
        found = Counter(call for pattern in _NAME_CALLS for call in pattern.findall(text))
        for (tag, key, value), count in found.items():
            if may_be_name_tag(tag := tag.lower()):
                self.calls[tag, key.lower(), unquoted(value).strip()] += count
        self.named += sum(len(p.findall(text)) for p in _OWN_NAMINGS) + text.count("【")


def may_be_name_tag(tag: str) -> bool:
    """Whether a tag may be a game's own name tag: none of the engines' or the reader's."""
    return tag not in _NOT_NAME_TAGS and not tag.startswith(_OWN_NAMED_PREFIXES)


def name_tags(
    calls: NameCalls, names: dict[str, str], is_alias: Callable[[str], bool]
) -> dict[str, str]:
    """Each tag of `calls` no file given defines (`names`: `display_names` of every file)
    that a call gives one of the aliases in a name attribute, as written or as the
    character id or variable it stands for (`akane`, あかね's; `&f.name`) → that
    attribute, the first in `NAME_ATTRIBUTES` that does: the game's own name tag, whose
    every call names the speaker (`Reader.name_call`). A game names its speakers one
    way: a tag called fewer times than the files name messages the reader's own ways
    (`[nm t=…]`, `#`, `【名】`) shows a character, no name tag (`[show name=アトリ
    face=smile]` before narration)."""
    called: Counter[str] = Counter()
    for (tag, _, _), count in calls.calls.items():
        called[tag] += count
    learnt: dict[str, str] = {}
    order = {key: i for i, key in enumerate((*NAME_ATTRIBUTES, NAMED_TEXT))}
    for tag, key, value in sorted(calls.calls, key=lambda c: (c[0], order[c[1]], c[2])):
        if tag in learnt or MACRO_KEY + tag in names or not value:
            continue
        if called[tag] >= calls.named and (is_alias(value) or is_alias(names.get(value, value))):
            learnt[tag] = key
    return learnt

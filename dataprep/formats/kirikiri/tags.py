"""The tags and attributes the format's rules name: those the reader acts on (a wait, a
page end, a name, a choice, a macro's definition, `[emb]`, `[ch]`: `READER_TAGS`), the
engines' own tags, and a command's attributes. In one place because the reader, the
macro definitions and the name tags each test a tag against the same sets.
"""

from __future__ import annotations

from dataprep.formats.common import KAG_TAGS

# Tags that end a message; after a page end the message's own name no longer applies.
WAIT = frozenset({"l", "wvl"})
PAGE = frozenset({"p", "np", "cm", "er", "pcm", "plc"})
# TyranoScript's `[chara_ptext name=akane]` is its `#akane` line written out: the name
# stays until the next one, as the name box does.
CHARA_PTEXT = "chara_ptext"
NAME_TAGS = frozenset({"nm", "name", CHARA_PTEXT})
# The attributes a game's own name tag (a macro made in TJS, or in a file not given) is
# seen to take for the speaker's name, in the order read: `[cn name="夏生"]`, `[name
# n="Magic Store Owner"]`, `t=` as `[nm]` takes it, `chara=`, `who=`. Few and fixed, so
# that no other attribute (`voice=k001`, `face=smile`, `f=dorothy_01`) names anyone, nor
# another argument a macro writes as its name box (`[ptext text=%name]`); of them, the
# engines' own tags take `name` only, never a speaker's (`name_tags._OWN_NAMED_TAGS`).
NAME_ATTRIBUTES = ("name", "n", "t", "chara", "who")
# A choice's text, between [link] and [endlink]: a menu option, not a line anyone says.
CHOICE_START, CHOICE_END = "link", "endlink"
# A macro's body, between [macro name=…] and [endmacro]: its definition, shown (and its
# tags run) only where a line calls it, under whatever speaker that line has.
MACRO_START, MACRO_END = "macro", "endmacro"
EMBED = "emb"
# KAG's `[ch text="あ"]` shows its text in the message, and so does `[hch text="12"]`
# (縦中横: set across a vertical line).
CHARACTERS = frozenset({"ch", "hch"})
# Attributes of a command, never of a name macro (`@シーン回想開始 storage=… target=…`,
# `[暗転 time=500]`), nor of markup (`[ルビ text="なつき"]夏生`, a ruby's reading); a
# name macro takes a voice, a face, a condition.
COMMAND_ATTRIBUTES = frozenset({"target", "layer", "time", "method", "exp", "text"})
# The engine's own tags: what a tag no file defines, ASCII (`@shiori`), may not be to be
# taken for a name macro whose definition was left out (`unnamed_calls`).
OWN_TAGS = frozenset(KAG_TAGS.split("|")) | {"ruby", "link"}
# TyranoScript's own tags showing text of their own, no line (`[ptext text="第一章"]`, a
# button's, a dialog's): no macro whose definition was left out (`text_calls`).
OWN_TEXT_TAGS = frozenset({"ptext", "mtext", "button", "glink", "dialog", "edit", "trace"})
# The tags `Reader.tag` acts on: never a speaker, whatever the aliases.
READER_TAGS = (
    WAIT
    | PAGE
    | NAME_TAGS
    | CHARACTERS
    | {"r", EMBED, CHOICE_START, CHOICE_END, MACRO_START, MACRO_END}
)

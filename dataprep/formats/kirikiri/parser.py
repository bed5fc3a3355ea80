"""KiriKiri / KAG `.ks` scenarios, TyranoScript included.

Speakers come from `[nm t="名"]` / `@nm t=名` (`n=` too; for the current message), a game's
own name tag (`[cn name="夏生"]`, learnt from the aliases: `name_tags`), TyranoScript
`#名` lines and the `[chara_ptext name=名]` they stand for (until the next; a bare `#`
clears it) and `【名】` headers (leading a line, or a message after a tag on its line:
`「ねえ」[l][r]【夏生】「ん？」`); a heading there (`【回想】`, `【第三章】`, as plain dumps
have them) names nobody, and a voice cue (`【voice:atr_0012】`) changes no speaker. A
TyranoScript `#akane` names a character by its id: when `[chara_new name="akane"
jname="あかね"]` (in any .ks file given) gives it a display name, the line is credited to
あかね, the name the player sees, and an alias "akane" still names her (see
`with_display_names`). Text runs over `[r]` and line ends until a wait tag (`[l]`, `[p]`,
`[np]`, `[wvl]`) closes the utterance (a click wait, `[l]` or `[wvl]`, inside a quote
left open does not: the quote is one line on screen). Choices (`[link]…[endlink]`) are no
one's line, nor a macro's body (`[macro name=…]…[endmacro]`), which is only its
definition: where a macro is called, the tags of its body run (`macro_tags`, from any .ks
file given), so a name macro (`@汐里 voice=shi_0001`, `[汐里]「…」`) names the speaker with
its `[nm]` or `#` line, the `[emb exp="mp.name"]` it writes to a name box of its own
(`[current layer=message1]`, KAG's) or the `【[emb exp="mp.name"]】` header leading its text
(`t=&mp.name` is `t=%name`), and one ending in `[p]` ends the line. A body showing the
call's arguments (`[macro name=say]「[emb exp=mp.text]」[p][endmacro]`, `[say text=…]`)
shows its text there too, as if the script had written it, and so does one showing a
game variable (`[macro name=pn][emb exp=f.name][endmacro]`: `「おかえり、[pn]さん」` is
`[emb exp=f.name]` written there; before a message's text, `[pn]「ただいま」` names the
player, as `【[emb exp=f.name]】` does). A body of fixed text only shows it inside a line
begun (`「好き[heart]」`, a mark), not called on its own (a system message; `_MacroBody`).
A tag no file defines names the speaker before a message's text when no tag has its name
(`[汐里]`, not ASCII) and it takes no `text=` (a ruby's reading), or it is one of the
aliases (`@atri`); after a click wait on the page, only before a line said:
`「ねえ」[l][ルビ]夏生さん` is still the page speaker's, the tag markup. Every other tag is
dropped but `[ch text=…]` and `[hch text=…]`, whose text is shown; `;` comments,
`*label` lines, `[iscript]` … `[endscript]` and TyranoScript `[html]` … `[endhtml]` blocks
(to the end tag wherever it is on its line: what follows it is read,
`…;[endscript]「…」`) and lines of script code (`f.flag = 1`, `<| … |>`) are not text,
and a label starts a new scene (ending the message and its `[nm]` name, not the name box
a `#` line set).
`[emb exp="f.name"]` shows the one string the .ks files given set the variable to (the
player's name as the player keeps it, `variable_values`), as a speaker named `&f.name`
is named by it; with no such value the line has a hole and is marked unusable (its text
keeps `[f.name]` there, so that the run names the variable).
`[[` is a literal `[`, and TyranoScript's backslash shows the mark it escapes (`\\]` is
`]`); its block comments (`/*` … `*/`, each alone on its line) are not text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

from dataprep.formats.common import (
    UNRESOLVED_VARIABLE,
    ParseOptions,
    alias_tag,
    is_alias,
    is_code,
    join_pieces,
    tidy_name,
)
from dataprep.formats.kirikiri.macro_arguments import argument_shown_by, with_arguments
from dataprep.formats.kirikiri.macros import INLINE_BODY, MACRO_KEY
from dataprep.formats.kirikiri.names import display_names
from dataprep.formats.kirikiri.syntax import (
    HEADER,
    HEADING_NAME,
    SOUND_NAME,
    TAGS_BEFORE_HEADER,
    TOKEN,
    VALUE,
    outside_code,
    shown_token,
    tag_name_and_attrs,
    unquoted,
)
from dataprep.formats.kirikiri.tags import (
    CHARA_PTEXT,
    CHARACTERS,
    CHOICE_END,
    CHOICE_START,
    COMMAND_ATTRIBUTES,
    EMBED,
    MACRO_END,
    MACRO_START,
    NAME_TAGS,
    OWN_TAGS,
    OWN_TEXT_TAGS,
    PAGE,
    READER_TAGS,
    WAIT,
)
from dataprep.formats.kirikiri.variables import GAME_VARIABLE, VALUE_OF, held_name
from dataprep.records import Utterance

_TAG_IN_NAME = re.compile(r"\[([^\[\]]*)\]")
_PLAIN_VARIABLE = re.compile(r"[A-Za-z_][\w.]*")
# Macros calling macros: how deep calls are followed (one calling itself stops there).
_DEEPEST_CALL = 8
# How long a tag no file defines may be to be taken for a character's name.
_LONGEST_NAME = 16
# What a tag no file defines, ASCII (`@shiori`), may not take to be taken for a name macro
# whose definition was left out (`unnamed_calls`): commands (`@bg storage=…`,
# `[chara_show name=akane]`); nor may it be one of the engine's own tags (`OWN_TAGS`).
_NOT_NAME_MACRO_ATTRIBUTES = COMMAND_ATTRIBUTES | {"storage", "name"}
# The attributes a game's own name tag (a macro made in TJS, or in a file not given) is
# seen to take for the speaker's name, in the order read: `[cn name="夏生"]`, `[name
# n="Magic Store Owner"]`, `t=` as `[nm]` takes it, `chara=`, `who=`. Few and fixed, so
# that no other attribute (`voice=k001`, `face=smile`, `f=dorothy_01`) names anyone; of
# them, the engines' own tags take `name` only, never a speaker's (`_OWN_NAMED_TAGS`).
_NAME_ATTRIBUTES = ("name", "n", "t", "chara", "who")
_NAME_ATTRIBUTE_SET = frozenset(_NAME_ATTRIBUTES)
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
_NOT_NAME_TAG_ATTRIBUTES = COMMAND_ATTRIBUTES | {
    "storage", "left", "top", "width", "height", "x", "y", "pos", "zindex",
}  # fmt: skip
# A call of a tag no reader rule acts on (never the reader's own name tags, the most
# called: `[nm t=…]`) with a name attribute and none of `_NOT_NAME_TAG_ATTRIBUTES`, in
# brackets or on an `@` line (after a line end: the text is read after a "\n"): its tag,
# and its first name attribute and value (`NameCalls`). Two patterns, each opening with
# one character, which the search skips to at once; the tag's body is scanned in C.
_NAME_CALL_TAIL = (
    r"[ \t]*+(?!(?:nm|name|chara_\w*)[ \t\]])([^\s\[\]=@]++)"
    rf"(?=[ \t][^\]\n]*?(?<![\w-])(?i:{'|'.join(_NAME_ATTRIBUTES)})[ \t]*+=)"
    rf"(?![^\]\n]*?(?<![\w-])(?i:{'|'.join(sorted(_NOT_NAME_TAG_ATTRIBUTES))})[ \t]*+=)"
    rf"[ \t][^\]\n]*?(?<![\w-])(?i:({'|'.join(_NAME_ATTRIBUTES)}))[ \t]*+=[ \t]*+{VALUE}"
)
_NAME_CALLS = (re.compile(r"\[" + _NAME_CALL_TAIL), re.compile(r"\n[ \t]*+@" + _NAME_CALL_TAIL))
# The reader's own ways of naming a message's speaker, but `【名】` (`NameCalls.named`):
# `[nm]`, `[name]`, `[chara_ptext]` in brackets or on an `@` line, and `#` lines.
_OWN_NAMING_TAGS = r"(?i:nm|name|chara_ptext)[ \t\]\n]"
_OWN_NAMINGS = (
    re.compile(r"\[[ \t]*+" + _OWN_NAMING_TAGS),
    re.compile(r"\n[ \t]*+(?:#|@[ \t]*+" + _OWN_NAMING_TAGS + ")"),
)
# Attributes never holding a line's text: code (`exp`, `cond`), a file, a jump, a name.
_NOT_TEXT_ATTRIBUTES = frozenset({"exp", "cond", "storage", "target", "name", "graphic"})
# How a value a tag no file defines is given looks when it is a line's text
# (`[say text="「おはよう」"]`, `@say text=今日はいい天気だね。`), as a file, a number, an
# expression, an id (`voice=shi_0101`), a name (`アトリ（幼少）`, `Mr. Smith`) or a
# ruby's reading (`[rb text=なつき]`) does not: a quote mark of a line or a sentence's
# punctuation (`、`, `。`, `…`, `Hello!`, `Good morning.`), or length: ten characters or
# more, none ASCII (a sentence of kana and kanji, where a name or a reading is short), or
# three ASCII words (`Good morning Natsuki`, where a name has two). Conservative: a short
# line with none of these (`やあ`) is not counted, a file of lines has many that are.
_LINE_MARKS = re.compile(r"[「」『』“”、。！？…‥]|[A-Za-z][!?](?:\s|$)|[A-Za-z]\.$")
_LONG_LINE = 10
_LINE_WORDS = re.compile(r"[A-Za-z',]+(?: [A-Za-z',]+){2,}")
# Tags never a game's own name tag (`name_tags`).
_NOT_NAME_TAGS = READER_TAGS | OWN_TAGS | OWN_TEXT_TAGS | _OWN_NAMED_TAGS
# Marks after a name leading a line (`悠真：そうだな`), as after a `【名】` header.
_NAME_COLONS = ("：", ":")
# Quote marks of a line a click wait may fall inside of, opener and closer.
_QUOTES = (("「", "」"), ("『", "』"), ("“", "”"))
# How a line someone says opens: `「…」`, `（…）` (a thought).
_SAID_OPENERS = (*(opener for opener, _ in _QUOTES), "（", "(")
# Stands for a visual line break until the utterance is closed; see `_join`.
_BREAK = "\x00"


def _join(parts: list[str]) -> str:
    """Line breaks vanish between CJK characters and become a space between words of a
    script that writes spaces (`join_pieces`); blanks beside a break go with it: a
    full-width space after `[r]` indents the next line on screen (`好きなの。[r]　小さい頃`),
    it is no space in what is said."""
    text = "".join(parts)
    return join_pieces(text.split(_BREAK)) if _BREAK in text else text.strip()


def _looks_like_name(word: str) -> bool:
    """Whether a tag's name no file defines, not ASCII, is a character's (`汐里`): short,
    with a letter in it, and no heading (`回想`)."""
    return (
        len(word) <= _LONGEST_NAME
        and any(c.isalpha() for c in word)
        and HEADING_NAME.fullmatch(word) is None
    )


def _carries_line(key: str, value: str) -> bool:
    """Whether an attribute of a tag no file defines holds a line's text (`_LINE_MARKS`)."""
    value = value.strip()
    if key in _NOT_TEXT_ATTRIBUTES or len(value) < 2:
        return False
    return bool(
        _LINE_MARKS.search(value)
        or (len(value) >= _LONG_LINE and all(not c.isascii() or c.isspace() for c in value))
        or _LINE_WORDS.fullmatch(value)
    )


def _line_attribute(attrs: dict[str, str]) -> str | None:
    """The attribute of a call holding a line's text, `text` first; None when none does,
    or the call jumps (`target`: a choice's)."""
    if "target" in attrs:
        return None
    keys = sorted(attrs, key=lambda key: key != "text")
    return next((key for key in keys if _carries_line(key, attrs[key])), None)


class NameCalls:
    """What `name_tags` learns a game's own name tags from, over every .ks file given
    (`add`): the calls that may name a speaker, and how many messages the files name the
    reader's own ways. Each distinct call is read once: a game calls its name tag
    thousands of times, with a few names."""

    def __init__(self) -> None:
        # (tag, attribute, value) → how many calls: of a tag neither KAG's, TyranoScript's
        # nor the reader's own (`_NOT_NAME_TAGS`), with a name attribute (the first it
        # has, `_NAME_ATTRIBUTES`) and no command's nor the stage's.
        self.calls: Counter[tuple[str, str, str]] = Counter()
        # How many `[nm]`, `[name]`, `[chara_ptext]`, `#` lines and `【` the files have.
        self.named = 0

    def add(self, text: str) -> None:
        text = "\n" + text
        found = Counter(call for pattern in _NAME_CALLS for call in pattern.findall(text))
        for (tag, key, value), count in found.items():
            if _may_be_name_tag(tag := tag.lower()):
                self.calls[tag, key.lower(), unquoted(value).strip()] += count
        self.named += sum(len(p.findall(text)) for p in _OWN_NAMINGS) + text.count("【")


def _may_be_name_tag(tag: str) -> bool:
    """Whether a tag may be a game's own name tag: none of the engines' or the reader's."""
    return tag not in _NOT_NAME_TAGS and not tag.startswith(_OWN_NAMED_PREFIXES)


def name_tags(
    calls: NameCalls, names: dict[str, str], is_alias: Callable[[str], bool]
) -> dict[str, str]:
    """Each tag of `calls` no file given defines (`names`: `display_names` of every file)
    that a call gives one of the aliases in a name attribute, as written or as the
    character id or variable it stands for (`akane`, あかね's; `&f.name`) → that
    attribute, the first in `_NAME_ATTRIBUTES` that does: the game's own name tag, whose
    every call names the speaker (`_Reader.name_call`). A game names its speakers one
    way: a tag called fewer times than the files name messages the reader's own ways
    (`[nm t=…]`, `#`, `【名】`) shows a character, no name tag (`[show name=アトリ
    face=smile]` before narration)."""
    called: Counter[str] = Counter()
    for (tag, _, _), count in calls.calls.items():
        called[tag] += count
    learnt: dict[str, str] = {}
    order = {key: i for i, key in enumerate(_NAME_ATTRIBUTES)}
    for tag, key, value in sorted(calls.calls, key=lambda c: (c[0], order[c[1]], c[2])):
        if tag in learnt or MACRO_KEY + tag in names or not value:
            continue
        if called[tag] >= calls.named and (is_alias(value) or is_alias(names.get(value, value))):
            learnt[tag] = key
    return learnt


class _Reader:
    def __init__(self, source: str, names: dict[str, str], options: ParseOptions) -> None:
        self.source = source
        # TyranoScript character id → display name (`#akane` is あかね's line), and
        # the tags each macro runs (`MACRO_KEY`).
        self.names = names
        self.options = options
        self.out: list[Utterance] = []
        self.speaker: str | None = None
        self.sticky = False  # True when TyranoScript's name box set it (`#` line)
        self.parts: list[str] = []
        self.said = False  # whether the message holds text (not only line breaks)
        # Per pair of `_QUOTES`, how many quotes the message holds open.
        self.quotes = [0] * len(_QUOTES)
        self.start_line = 0
        self.scene = "0"
        self.in_choice = False
        self.in_macro = False
        # An [emb exp=…] in the message whose value no script given sets (the player's
        # name with no default), so the line, written without it, has a hole.
        self.unresolved = False
        # Game variables shown before the message's text (`[emb exp=f.name]`, or `[pn]`
        # with that body), each with its value (None when no file sets it): they
        # name the speaker or lead the text, as the text after them tells (`embed`).
        self.held: list[tuple[str, str | None]] = []
        self.number = 0  # the line being read
        self.calls = 0  # how deep in macros calling macros
        # A tag no file defines that may be a name macro (`@shiori`), called since the last
        # message; and how many lines said with no speaker follow each (`unnamed_calls`).
        self.undefined_call: str | None = None
        # Whether a click wait (`[l]`) ended a line on this page; and a tag no file defines
        # after it that names the speaker if the text after it opens a line said (`_deferred`).
        self.waited = False
        self.maybe_speaker: str | None = None
        self.unnamed_calls: Counter[str] = Counter()
        # A call of a tag no file defines with a name attribute, not learnt as a name tag
        # (`name_tags`: none of its values is an alias), since the last message, as
        # (tag, attribute, value); and how many lines with no speaker follow each.
        self.unlearnt_call: tuple[str, str, str] | None = None
        self.unlearnt_calls: Counter[tuple[str, str, str]] = Counter()
        # Tags no file defines given a line's text, and the attribute holding it
        # (`[say text="「…」"]`): how many calls of each (`text_calls`).
        self.text_calls: Counter[tuple[str, str]] = Counter()

    def flush(self) -> None:
        text = _join(self.parts)
        if self.unresolved:
            self.out.append(
                Utterance(
                    self.speaker,
                    text,
                    self.source,
                    self.start_line,
                    self.scene,
                    UNRESOLVED_VARIABLE,
                )
            )
            self.unresolved = False
        elif text:
            self.out.append(
                Utterance(self.speaker, text, self.source, self.start_line, self.scene, shown=True)
            )
        self.parts = []
        self.said = False
        self.held = []
        self.quotes = [0] * len(_QUOTES)
        self.undefined_call = None
        self.unlearnt_call = None
        self.maybe_speaker = None

    def shown_name(self, header: str) -> str:
        """A `【…】` header's name as shown: `【[emb exp="f.name"]】` is the player's name
        (`&f.name` while no file given sets it), and other tags in it show nothing."""
        if "[" not in header:
            return header
        return _TAG_IN_NAME.sub(self._shown_tag, header)

    def name_header(self, header: str) -> None:
        """`【回想】「……」` is narration: the header is never text, and a heading names
        nobody. A voice cue there (`【voice:atr_0012】`) changes no speaker: `#亚托莉`
        still says it."""
        name = self.shown_name(header)
        if SOUND_NAME.fullmatch(name) is None:
            self.set_speaker(None if HEADING_NAME.fullmatch(name) else name.strip(), False)

    def _shown_tag(self, m: re.Match[str]) -> str:
        name, attrs = tag_name_and_attrs(m.group(1))
        if name != EMBED:
            return ""
        key = VALUE_OF + attrs.get("exp", "").strip()
        return self.names.get(key, key)

    def quote_open(self) -> bool:
        return any(self.quotes)

    def end_page(self) -> None:
        self.flush()
        self.waited = False
        self.in_choice = False  # an [endlink] left out loses one page at most
        if not self.sticky:
            self.speaker = None

    def set_speaker(self, name: str | None, sticky: bool) -> None:
        if self.in_macro:  # a `#汐里` in a macro's body names her where it is called
            return
        self.flush()
        self.speaker = tidy_name(name) if name else None
        self.sticky = sticky

    def tag(self, body: str) -> None:
        name, attrs = tag_name_and_attrs(body)
        if self.in_macro:
            self.in_macro = name != MACRO_END
            return
        if name == MACRO_START:
            self.flush()
            self.in_macro = True
        elif name == CHOICE_START:
            self.flush()
            self.in_choice = True
        elif name == CHOICE_END:
            self.in_choice = False
        elif name == "r":
            self.parts.append(_BREAK)
        elif name in CHARACTERS:
            self.text(attrs.get("text", ""), self.number)
        elif name == EMBED:
            self.embed(attrs.get("exp", "").strip())
        elif name in WAIT:
            # `「えっ……[l]本当に？」`: a click wait inside a quote is one line on screen;
            # cut there, "えっ……" would be dropped as a line of only a sound.
            if not self.quote_open():
                self.flush()
                self.waited = True
        elif name in PAGE:
            self.end_page()
        elif name == CHARA_PTEXT:
            self.chara_speaks(attrs.get("name", ""))
        elif name in NAME_TAGS:
            self.name_tag(name, attrs, body)
        else:
            self.call(name, attrs, body)

    def name_tag(self, name: str, attrs: dict[str, str], body: str) -> None:
        """`[nm t=汐里]`, `[name n="Magic Store Owner"]`: the speaker of the message.
        `name=` is a character id (`[nm name=akane]`), `&f.name` the variable's value;
        with neither `t=` nor `name=` a game's own `[nm]` runs where a file given defines
        it (`[nm n=汐里]`), and `n=` names the speaker where none does."""
        who = attrs.get("t") or attrs.get("text") or ""
        if not who and "name" in attrs:  # [nm name=akane]: a character id
            who = self.names.get(attrs["name"].strip(), attrs["name"])
        if not who and MACRO_KEY + name in self.names:
            self.call(name, attrs, body)
            return
        who = who or attrs.get("n", "")
        if who.startswith(VALUE_OF):  # `t=&f.name`: the variable's value
            who = self.names.get(who.strip(), who)
        self.set_speaker(who.split("/")[0].strip(), sticky=False)

    def embed(self, exp: str) -> None:
        """`[emb exp=f.name]`: the variable's value, as the .ks files given set it
        (`variable_values`); with none the line has a hole, and is marked unusable.
        A variable shown before a message's text, written there or by a macro (`[pn]`,
        body `[emb exp=f.name]`), may name the speaker, as `【[emb exp=f.name]】` does: it
        is held (`held`) until the text after it tells: a line said
        (`[emb exp=f.name]「ただいま」`, `[pn]「ただいま」`) is the player's, as `名「…」`
        is a dump's; other text is read on from the name (`[pn]は笑った。`). Inside a
        line begun (`「おかえり、[pn]さん」`) it is text."""
        value = self.names.get(VALUE_OF + exp)
        if not self.said and not self.in_choice and GAME_VARIABLE.fullmatch(exp):
            self.held.append((exp, value))
            return
        self.text(self.embedded(exp, value), self.number)

    def embedded(self, exp: str, value: str | None) -> str:
        """What an `[emb]` shows: the variable's value; with none, the line is marked
        unusable and keeps `[f.name]`, as a Ren'Py line keeps its `[var]`, so that the
        run names the variable that lost it."""
        if value is not None:
            return value
        self.unresolved = not self.in_choice
        return f"[{exp}]" if _PLAIN_VARIABLE.fullmatch(exp) else ""

    def _name_or_text(self, chunk: str) -> str:
        """The first text of a message after the variables shown before it (`held`): a line
        said after them (`「…」`, `（…）`, or after a colon, `：…`) is theirs, named as a
        `【[emb exp=f.name]】` header names it (`&f.name` while no file sets it); other
        text reads on from their values. What is left of the chunk to show."""
        held, self.held = self.held, []
        said = chunk.lstrip()
        colon = said.startswith(_NAME_COLONS)
        if (colon or said.startswith(_SAID_OPENERS)) and (name := held_name(held)):
            self.set_speaker(name, sticky=False)
            return said.lstrip("".join(_NAME_COLONS)).lstrip() if colon else chunk
        return "".join(self.embedded(exp, value) for exp, value in held) + chunk

    def sharp_line(self, line: str) -> None:
        """A TyranoScript `#akane:happy` line (`[chara_ptext name=akane face=happy]`)."""
        self.chara_speaks(line[1:].split(":", 1)[0])

    def chara_speaks(self, chara: str) -> None:
        """TyranoScript's name box shows a character (by her display name: `akane` is
        あかね) until it is set again; set to "" it names nobody."""
        who = chara.strip()
        self.set_speaker(self.names.get(who, who), sticky=True)

    def call(self, name: str, attrs: dict[str, str], body: str) -> None:
        """Any other tag: a macro runs the tags of its body (`macro_tags`): a name macro
        (`@汐里 voice=shi_0001`) names the speaker, `[n]` ending in `[p]` ends the line.
        With no definition in the files given, a tag before a message's text names its
        speaker when its name is no tag's: not ASCII (`[汐里]`, tags are ASCII words),
        no heading (`[回想]`) and no command's (`[暗転 time=500]`) nor markup's
        (`[ルビ text=なつき]`), or one of the aliases (`@atri`); after a click wait, only
        if a line said follows (`_deferred`). One with a name attribute
        (`[cn name="夏生"]`) names by it, if a game's own name tag (`name_call`)."""
        tags = self.names.get(MACRO_KEY + name)
        if tags is not None:
            if INLINE_BODY in tags:  # fixed text: shown only inside a line begun
                run, _, whole = tags.partition(INLINE_BODY)
                tags = whole if self.said else run
            if self.calls < _DEEPEST_CALL:
                self.calls += 1
                for m in TOKEN.finditer(tags):
                    self.run_body_token(m, attrs)
                self.calls -= 1
            return
        written = body.split(None, 1)[0] if body.strip() else ""
        self.count_text_call(name, written, attrs)
        if self.said or not written:
            return  # `「好き[ハート]」`: a macro inside the text, no name
        aliases, convert = self.options.speaker_aliases, self.options.convert_name
        if written.isascii() and aliases and is_alias(written, aliases, convert):
            self.set_speaker(written, sticky=False)
        elif (named := self.name_attribute(name, attrs)) is not None:
            self.name_call(name, *named)
        elif written.isascii():
            if name not in OWN_TAGS and _NOT_NAME_MACRO_ATTRIBUTES.isdisjoint(attrs):
                self.undefined_call = written
        elif not _looks_like_name(written) or not COMMAND_ATTRIBUTES.isdisjoint(attrs):
            return
        elif self.waited:
            self.maybe_speaker = written
        else:
            self.set_speaker(written, sticky=False)

    def name_attribute(self, name: str, attrs: dict[str, str]) -> tuple[str, str] | None:
        """The name attribute (`_NAME_ATTRIBUTES`) of a call of a tag no file defines that
        may be a game's own name tag, and its value: the attribute learnt for the tag
        (`name_tags`) when it has it, else the first it has; None for the engines' tags
        and a command's call (`NameCalls`)."""
        if _NAME_ATTRIBUTE_SET.isdisjoint(attrs) or not _may_be_name_tag(name):
            return None  # most calls: `[playse storage=…]`, `@汐里 voice=…`
        if not _NOT_NAME_TAG_ATTRIBUTES.isdisjoint(attrs):
            return None
        learnt = self.options.kirikiri_name_tags.get(name)
        if learnt is None or learnt not in attrs:
            learnt = next(key for key in _NAME_ATTRIBUTES if key in attrs)
        return learnt, attrs[learnt].strip()

    def name_call(self, name: str, key: str, value: str) -> None:
        """A call naming someone (`name_attribute`) before a message's text. Of a game's own
        name tag (`name_tags`), it names the message's speaker (a character id, `&f.name`,
        as `[nm name=…]` does; an empty value names nobody; after a click wait, only a line
        said: `_deferred`). Of another tag, whose values are no alias, it names nobody: it
        is counted before the lines after it (`unlearnt_name_calls`)."""
        if key != self.options.kirikiri_name_tags.get(name):
            if value:
                self.unlearnt_call = (name, key, value)
            return
        who = self.names.get(value, value)
        if self.waited:
            self.maybe_speaker = who
        else:
            self.set_speaker(who, sticky=False)

    def count_text_call(self, name: str, written: str, attrs: dict[str, str]) -> None:
        """A tag no file defines given what looks like a line's text (`[say text=…]`): a
        macro showing its argument (`_MacroBody`) whose definition was left out, which
        loses the line (`text_calls`)."""
        if self.in_choice or name in OWN_TAGS or name in OWN_TEXT_TAGS:
            return
        if (key := _line_attribute(attrs)) is not None:
            self.text_calls[written, key] += 1

    def run_body_token(self, token: re.Match[str], arguments: dict[str, str]) -> None:
        """A token of a called macro's body (`macro_tags`): a tag runs with the call's
        arguments in it, text is shown as if the script wrote it where the macro is
        called, and so is the argument an `[emb exp=mp.text]` shows (whole: written into
        the tag, "Good morning" would be cut at its blank)."""
        if token.group(1) is None:
            self.text(shown_token(token.group(0)), self.number)
            return
        argument = argument_shown_by(token.group(1))
        if argument is None:
            self.tag(with_arguments(token.group(1), arguments))
        else:
            self.text(with_arguments(argument, arguments), self.number)

    def _deferred(self, chunk: str) -> None:
        """After a click wait the page's speaker goes on: a tag there no file defines
        (`「ねえ」[l][ルビ]夏生さん`) is markup, unless the text after it opens a line
        said (`「ねえ」[l][夏生]「ん？」`), which it names."""
        if self.maybe_speaker is not None and chunk.lstrip().startswith(_SAID_OPENERS):
            self.set_speaker(self.maybe_speaker, sticky=False)
        self.maybe_speaker = None

    def text(self, chunk: str, number: int) -> None:
        if self.in_choice or self.in_macro:
            return
        if not self.said:
            self._deferred(chunk)
            if self.held:
                chunk = self._name_or_text(chunk)
                if not chunk:
                    return
            if chunk.startswith("【") and (header := HEADER.match(chunk)):
                # A message's header after a tag on its line: `「ねえ」[l][r]【夏生】「ん？」`.
                self.name_header(header.group(1))
                chunk = header.group(2)
                if not chunk:
                    return
            self.start_line = number
            self.said = True
            if self.undefined_call and self.speaker is None and chunk.startswith(_SAID_OPENERS):
                self.unnamed_calls[self.undefined_call] += 1
            if self.unlearnt_call and self.speaker is None:
                self.unlearnt_calls[self.unlearnt_call] += 1
        self.parts.append(chunk)
        for i, (opener, closer) in enumerate(_QUOTES):
            if opener in chunk or closer in chunk:
                self.quotes[i] = max(0, self.quotes[i] + chunk.count(opener) - chunk.count(closer))


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    return _read(text, source, options).out


def unnamed_calls(text: str, options: ParseOptions) -> Counter[str]:
    """Tags no file given defines, ASCII and no command (`@shiori voice=shi_0001`), each
    with how many lines said with no speaker (`「…」`) follow it: name macros, most
    likely, whose definitions (in first.ks or macro.ks) were not given."""
    return _read(text, "", options).unnamed_calls


def text_calls(text: str, options: ParseOptions) -> Counter[tuple[str, str]]:
    """Tags no file given defines, each with an attribute holding what looks like a line's
    text (`[say text="「おはよう」"]` → ("say", "text")), with how many calls give it:
    macros showing the line they are given, most likely, whose definitions (in first.ks or
    macro.ks) were not given, so that every such line is lost."""
    return _read(text, "", options).text_calls


class UnlearntNameTag(NamedTuple):
    """A tag no file given defines whose calls name someone (`[talk name="夏生"]`) before
    lines with no speaker, never learnt as a name tag (`name_tags`): most likely, none of
    its values is one of the aliases."""

    tag: str
    attribute: str
    lines: int  # how many lines with no speaker follow its calls
    values: list[str]  # the values its calls give, the most common first


def unlearnt_name_calls(text: str, options: ParseOptions) -> list[UnlearntNameTag]:
    """The tags of `UnlearntNameTag` in the text, the most lines first: a game's own name
    tags, most likely, whose names match none of the aliases."""
    lines: Counter[tuple[str, str]] = Counter()
    values: dict[tuple[str, str], Counter[str]] = {}
    for (tag, key, value), count in _read(text, "", options).unlearnt_calls.items():
        lines[tag, key] += count
        values.setdefault((tag, key), Counter())[value] += count
    return [
        UnlearntNameTag(tag, key, count, [value for value, _ in values[tag, key].most_common()])
        for (tag, key), count in lines.most_common()
    ]


def _read(text: str, source: str, options: ParseOptions) -> _Reader:
    names = options.kirikiri_names
    if "chara_new" in text or "macro" in text:
        names = {**names, **display_names(text)}
    reader = _Reader(source, names, options)
    marker = options.scene_marker.match if options.scene_marker else None
    marks = 0
    block_end: str | None = None  # the tag ending the code block being skipped
    in_comment = False
    for number, raw in enumerate(text.splitlines(), 1):
        reader.number = number
        line = raw.strip()
        if not line or line[0] == ";":
            continue
        # A TyranoScript block comment: from a line that is only `/*` to one only `*/`
        # (its `*/` is no `*label`, and nothing between is said).
        if in_comment or line == "/*":
            in_comment = line != "*/"
            continue
        if block_end is not None or line[0] in "[@":
            block_end, line = outside_code(line, block_end)  # JavaScript / TJS / HTML
            if not line:
                continue
        head = line[0]
        if is_code(line):
            continue
        if head == "*":
            # A new scene; TyranoScript's name box still shows who it showed.
            reader.end_page()
            reader.scene = line[1:].split("|", 1)[0].strip() or str(number)
            continue
        if head == "@":
            reader.tag(line[1:])
            continue
        if head == "#":
            reader.sharp_line(line)
            continue
        if marker is not None and marker(line):
            reader.set_speaker(None, sticky=False)
            marks += 1
            reader.scene = f"marker{marks}"
            continue
        if head == "[" and options.speaker_aliases:
            # `[atri] おはよう`: a speaker tag in a dump when it names the lead or the
            # character (any other tag stays a tag), unless it is a tag this reader acts on.
            tagged = alias_tag(line, options.speaker_aliases, options.convert_name)
            if tagged is not None and tagged[0].lower() not in READER_TAGS:
                reader.set_speaker(tagged[0], sticky=False)
                line = tagged[1]
                if not line:
                    continue
                head = line[0]
        if head == "_":
            # TyranoScript: a leading "_" keeps the blanks after it; it is not shown.
            line = line[1:]
            if not line:
                continue
            head = line[0]
        if head == "[" and "【" in line and (tags := TAGS_BEFORE_HEADER.match(line)):
            # `[voice storage="atr_0012"]【アトリ】「はい」`: the tags before a header act
            # first, and the header names the speaker as at the start of a line.
            for m in TOKEN.finditer(tags.group(0)):
                if m.group(1) is not None:
                    reader.tag(m.group(1))
            line = line[tags.end() :]
            # In a choice (`[link]【はい】[endlink]`) it is the choice's text, no one's.
            head = "" if reader.in_choice or reader.in_macro else "【"
        header = HEADER.match(line) if head == "【" else None
        if header is not None:
            reader.name_header(header.group(1))
            line = header.group(2)
        for m in TOKEN.finditer(line):
            token = m.group(0)
            if token == "[[" or (token[0] == "\\" and len(token) == 2):
                reader.text(token[-1], number)
            elif token[0] == "[":
                reader.tag(m.group(1) or "")
            else:
                reader.text(token, number)
        # A line end inside a message is a visual break, like [r].
        if reader.parts:
            reader.parts.append(_BREAK)
    reader.flush()
    return reader

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
from collections.abc import Callable, Iterable
from functools import lru_cache
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
from dataprep.formats.kirikiri.syntax import (
    BLOCKS,
    HEADER,
    HEADING_NAME,
    SOUND_NAME,
    TAG_WORD,
    TAGS_BEFORE_HEADER,
    TOKEN,
    VALUE,
    outside_code,
    quoted,
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
from dataprep.records import Utterance
from dataprep.speakers import normalise_name

_TAG_IN_NAME = re.compile(r"\[([^\[\]]*)\]")
# TyranoScript's `[chara_new name="akane" jname="あかね" …]` (or `@chara_new …`).
_CHARA_NEW = re.compile(r"(?:\[|^[ \t]*@)[ \t]*chara_new\b([^\]\n]*)", re.M)
# `[current layer=message1]`: what follows is written to that message layer; a layer but
# the main one (`message0`, or the current `message`) is a name box in a macro's body.
_CURRENT_LAYER = "current"
_MAIN_LAYERS = frozenset({"", "message", "message0"})
# A game variable given a string, as scripts give the player's name its default: in
# TJS/JavaScript (`f.name = "悠真";`, `[eval exp="f.name='悠真'"]`), as the default of
# KAG's `System.inputString(caption, prompt, "悠真")`, or as the `initial` of the
# TyranoScript `[edit name="f.name" initial="悠真"]` the player types it into.
_VARIABLE = r"(?:sf|tf|f)\.[A-Za-z_]\w*"
_STRING = r"""(?:"([^"\n]*)"|'([^'\n]*)')"""
_ASSIGNED = re.compile(
    rf"(?<![\w.])({_VARIABLE})[ \t]*=(?![=])[ \t]*"
    rf"(?:System\.inputString\([^()\n]*,[ \t]*)?{_STRING}"
)
_PLAIN_VARIABLE = re.compile(r"[A-Za-z_][\w.]*")
_GAME_VARIABLE = re.compile(_VARIABLE)
_EDIT = re.compile(r"(?:\[|^[ \t]*@)[ \t]*edit\b([^\]\n]*)", re.M)
# How a tag's attribute names a variable's value (`t=&f.name`, `#&f.name`): the key
# under which `display_names` gives a variable's value.
_VALUE_OF = "&"
# Under this key plus a macro's name (`@汐里`), `display_names` gives the tags its body
# runs (`macro_tags`): `[nm t="汐里"]` for a name macro, `[p][cm]` for a page macro; a
# macro defined, even with no such tag (`[macro name=暗転]`), is no character's name.
_MACRO_KEY = "@"
# Macros calling macros: how deep calls are followed (one calling itself stops there).
_DEEPEST_CALL = 8
# A macro's argument in its body: `%voice`, `%name|汐里` (with a default), and in an
# expression (`[emb exp="mp.name"]`, an attribute's whole value `t=&mp.name`).
_MACRO_ARGUMENTS = "mp."
_ARGUMENT = re.compile(r"%([\w-]+)(?:\|([^\s\]\"']*))?|&mp\.([A-Za-z_]\w*)(?=[\"'`]?(?:\s|$))")
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
# What a macro's body may hold that is not run where it is called (`macro_tags`): as its
# text, what it shows is not read.
_SHOWS_TEXT = CHARACTERS | {EMBED, CHOICE_START, CHOICE_END}
# Tags that make a macro's fixed text no part of a line where it is called: ending or
# waiting on a message, naming a speaker, a choice (a system message, a prompt).
_NOT_INLINE = WAIT | PAGE | NAME_TAGS | {CHOICE_START, CHOICE_END}
# Between the tags a macro of fixed text runs at every call and its whole body, run
# instead inside a line already begun (`_MacroBody.tags`).
_INLINE_BODY = "\x01"
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


def display_names(text: str) -> dict[str, str]:
    """TyranoScript character id → the name shown for it, from every `chara_new` with a
    `jname` in the text; and `&f.name` → the one string the text gives the variable
    `f.name` (`variable_values`), which a speaker named `&f.name` and `[emb exp=f.name]`
    show."""
    found = {_VALUE_OF + name: value for name, value in variable_values(text).items()}
    found.update((_MACRO_KEY + name, tags) for name, tags in macro_tags(text).items())
    if "chara_new" not in text:
        return found
    for body in _CHARA_NEW.findall(text):
        attrs = tag_name_and_attrs(f"chara_new {body}")[1]
        chara_id, shown = attrs.get("name", "").strip(), attrs.get("jname", "").strip()
        if chara_id and shown:
            found[chara_id] = shown
    return found


def macro_tags(text: str) -> dict[str, str]:
    """Each macro the text defines (`[macro name=汐里]` or `@macro name=汐里` to its
    `endmacro`; names as tags compare them, lower case) → the tags of its body, as `[…]`
    text, that `_Reader.call` runs where it is called: a name macro's `[nm t="汐里"]` (a
    TyranoScript `#汐里` line as the `[chara_ptext name="汐里"]` it stands for), a page
    macro's `[p][cm]`, other macros' calls. Not its text, nor what shows text (`emb`,
    `ch`, a choice), nor code (`[iscript]` … `[endscript]`); but an `[emb exp="mp.name"]`
    written to a name box (`_name_box_emb`), or in a `【…】` leading its text
    (`_NameHeader`), is its `[nm t="%name"]`; and a body showing the call's arguments
    (`「[emb exp=mp.text]」[p]`) shows its text and choices where it is called, as
    `_MacroBody` tells."""
    if "macro" not in text:
        return {}
    found: dict[str, _MacroBody] = {}
    defining: _MacroBody | None = None  # the body being read
    in_name_box = False  # whether the body writes to a message layer of its own
    header = _NameHeader()  # the `【名】` leading the body's text
    block_end: str | None = None
    for line in text.splitlines():
        block_end, line = outside_code(line.strip(), block_end)
        if defining is not None and line.startswith("#"):
            who = line[1:].split(":", 1)[0].strip()
            defining.tag(f'[{CHARA_PTEXT} name="{who}"]')
            continue
        if defining is not None and is_code(line):
            continue
        for body, shown in _line_pieces(line, defining is not None):
            if body is None:
                if defining is not None:
                    name_tags, shown = header.text(shown)
                    for tag in name_tags:
                        defining.tag(tag)
                    if not in_name_box:
                        defining.show(shown)
                continue
            name, attrs = tag_name_and_attrs(body)
            if name == MACRO_START:
                macro = attrs.get("name", "").strip().lower()
                defining = _MacroBody() if macro else None
                if defining is not None:
                    found[macro] = defining  # defined again: the last definition counts
                in_name_box, header = False, _NameHeader()
            elif name == MACRO_END:
                defining = None
            elif name in BLOCKS:  # `[macro name=x][iscript]`: to its end
                block_end = outside_code(line[line.index(body) - 1 :], None)[0]
                break
            elif defining is None:
                continue
            elif name not in _SHOWS_TEXT:
                defining.tag(f"[{body.strip()}]")
                if name == _CURRENT_LAYER:
                    in_name_box = attrs.get("layer", "").lower() not in _MAIN_LAYERS
            elif header.is_open:  # `【[emb exp="mp.name"]】`: a piece of the name
                header.add(_name_box_emb(attrs) if name == EMBED else attrs.get("text"))
            elif name == EMBED and in_name_box and (shown := _name_box_emb(attrs)):
                defining.tag(f'[nm t="{shown}"]')
            elif not in_name_box:
                header.shown()
                defining.show_tag(f"[{body.strip()}]", _shown_argument(name, attrs))
                defining.shows_variable |= _shows_variable(name, attrs)
        header.line_end()
    return {name: body.tags() for name, body in found.items()}


class _MacroBody:
    """A macro's body as `macro_tags` reads it: its tags, which run wherever it is called,
    and what it shows in the message (text, `emb`, `ch`, choices), which is read there
    when the body shows something of the call's arguments (`[emb exp=mp.text]`,
    `[ch text=%text]`): then the macro is how the script writes its lines
    (`[say text="おはよう"]`), and its text around them (`「…」`, `[nm]`, `[p]`) is theirs.
    So it is when the body shows a game variable (`[macro name=pn][emb exp=f.name]`, the
    player's name): `「おかえり、[pn]さん」` reads as `[emb exp=f.name]` written there
    would (before a message's text it may name the speaker: `_Reader.embed`).
    A body of fixed text only shows the same at every call. Called on its own, before a
    message's text (`[macro name=sys]セーブしました[p][endmacro]`, a choice's prompt), it
    is the game's own text, not a line the script writes, which read at each call would
    repeat one line many times, credited to whoever speaks there: it stays unread, as
    its definition. Inside a line already begun (`「好き[heart]」`, with a body `♥`, or
    `「[atr_n]は？」` with `アトリ`) it is part of the line the player reads, and shown:
    unless the body ends or waits on a message, names a speaker or holds a choice
    (`_NOT_INLINE`), which no text inside a line does. An argument leading its text
    before a colon (`[emb exp=mp.name]：`) is the speaker's name, as `名：「…」` writes it:
    the `[nm t="%name"]` it stands for, not text."""

    def __init__(self) -> None:
        # (as `[…]` text, whether it is shown, the call's argument it shows, if one).
        self.pieces: list[tuple[str, bool, str | None]] = []
        self.shows_variable = False  # an `[emb exp=f.name]` in its text
        self.inline = True  # whether its fixed text may be part of a line (`_NOT_INLINE`)

    def tag(self, tag: str) -> None:
        self.pieces.append((tag, False, None))
        self._note(tag)

    def _note(self, tag: str) -> None:
        word = TAG_WORD.match(tag)
        if word is not None and word.group(1).lower() in _NOT_INLINE:
            self.inline = False

    def show(self, text: str) -> None:
        """Text shown, escaped to read as text again (`[` is `[[`, `\\` is `\\\\`)."""
        if text:
            self.pieces.append((text.replace("\\", "\\\\").replace("[", "[["), True, None))

    def show_tag(self, tag: str, argument: str | None) -> None:
        """A tag showing text (`emb`, `ch`: `argument`, the call's it shows whole) or a
        choice's (`link`, `endlink`)."""
        self.pieces.append((tag, True, argument))
        self._note(tag)

    def tags(self) -> str:
        """The body as `_Reader.call` runs it: whole when it shows an argument or a
        variable; of fixed text, its tags, and after `_INLINE_BODY` the whole body for a
        call inside a line, when its text may be part of one."""
        pieces = self._named()
        whole = "".join(p for p, _, _ in pieces)
        if self.shows_variable or any(argument for _, _, argument in pieces):
            return whole
        run = "".join(p for p, shown, _ in pieces if not shown)
        return run + _INLINE_BODY + whole if self.inline and run != whole else run

    def _named(self) -> list[tuple[str, bool, str | None]]:
        """The pieces, an argument leading the text before a colon the `[nm]` naming it."""
        shown = [i for i, (_, is_shown, _) in enumerate(self.pieces) if is_shown]
        if len(shown) < 2 or shown[1] != shown[0] + 1:
            return self.pieces
        (_, _, name), (text, _, _) = self.pieces[shown[0]], self.pieces[shown[1]]
        said = text.lstrip()
        if name is None or not said.startswith(("：", ":")):
            return self.pieces
        named = [(f'[nm t="{name}"]', False, None), (said[1:].lstrip(), True, None)]
        return [*self.pieces[: shown[0]], *named, *self.pieces[shown[1] + 1 :]]


def _shown_argument(name: str, attrs: dict[str, str]) -> str | None:
    """The call's argument a tag of a macro's body shows whole, as `_with_arguments`
    reads it: `[emb exp=mp.text]` shows `%text`, and so do `[ch text=%text]` and
    `[ch text=&mp.text]`; None for a tag showing anything else."""
    if name == EMBED:
        exp = attrs.get("exp", "").strip()
        argument = exp[len(_MACRO_ARGUMENTS) :]
        return (
            "%" + argument if exp.startswith(_MACRO_ARGUMENTS) and argument.isidentifier() else None
        )
    text = attrs.get("text", "").strip()
    return text if name in CHARACTERS and _ARGUMENT.fullmatch(text) else None


def _shows_variable(name: str, attrs: dict[str, str]) -> bool:
    """Whether a tag of a macro's body shows a game variable: `[emb exp=f.name]`."""
    return name == EMBED and _GAME_VARIABLE.fullmatch(attrs.get("exp", "").strip()) is not None


@lru_cache(maxsize=4096)
def _argument_shown_by(tag_body: str) -> str | None:
    """`_shown_argument` of a macro body's tag, once per tag: a body runs at every call
    of its macro, tens of thousands in a game, and its tags are a few."""
    return _shown_argument(*tag_name_and_attrs(tag_body))


def _name_box_emb(attrs: dict[str, str]) -> str:
    """What an `[emb]` a macro writes to a message layer of its own (KAG's name box,
    `[current layer=message1]`) names as an `[nm t=…]` would: the call's argument
    (`exp="mp.name"` is `%name`) or a variable's value (`exp="f.name"`); "" for other
    expressions."""
    if (argument := _shown_argument(EMBED, attrs)) is not None:
        return argument
    exp = attrs.get("exp", "").strip()
    return _VALUE_OF + exp if _GAME_VARIABLE.fullmatch(exp) else ""


def _line_pieces(line: str, in_macro: bool) -> list[tuple[str | None, str]]:
    """A stripped line's tags and text, in order: (a tag's body, "") or (None, the text
    shown). An `@` line is one tag, a `;` line nothing, nor a line of only text outside
    a macro's body."""
    if line.startswith("@"):
        return [(line[1:], "")]
    if line.startswith(";") or ("[" not in line and not in_macro):
        return []
    return [
        (m.group(1), "") if m.group(1) is not None else (None, shown_token(m.group(0)))
        for m in TOKEN.finditer(line)
    ]


class _NameHeader:
    """A `【名】` header a macro's body writes as the first of its text,
    `【[emb exp="mp.name"]】` (no name box: the name leads the line, as a script writing
    `【アトリ】「…」` has it): it names the speaker where the macro is called, as an
    `[nm t="%name"]` there would."""

    def __init__(self) -> None:
        # The pieces of the name since the `【`; None in them for one not known here
        # (`[emb exp="sf.names[mp.id]"]`): that header names nobody.
        self.pieces: list[str | None] | None = None
        self.done = False  # a header read, or text shown first: no `【` after is one

    @property
    def is_open(self) -> bool:
        return self.pieces is not None

    def add(self, piece: str | None) -> None:
        """A piece shown by a tag (`emb`, `ch`) in the header."""
        if self.pieces is not None:
            self.pieces.append(piece or None)

    def shown(self) -> None:
        """Text shown outside a header: one after it is no name."""
        self.done = True

    def text(self, chunk: str) -> tuple[list[str], str]:
        """The `[nm]` tag of the header this text closes, if it does, and what of the
        text is shown in the message: all of it, but the header."""
        if self.done:
            return [], chunk
        if self.pieces is None:
            before, opened, rest = chunk.partition("【")
            self.done = bool(before.strip())
            if self.done or not opened:
                return [], chunk
            self.pieces = []
            chunk = rest
        piece, closed, after = chunk.partition("】")
        self.pieces.append(piece)
        if not closed:
            return [], ""
        tags, self.pieces, self.done = _name_tag(self.pieces), None, True
        return tags, after

    def line_end(self) -> None:
        """A header is on one line: one left open is none."""
        if self.pieces is not None:
            self.pieces, self.done = None, True


def _name_tag(pieces: list[str | None]) -> list[str]:
    """The `[nm t=…]` a header's pieces name (`%name`, a call's argument; `&f.name`, a
    variable's value, whole); none for a voice cue, one naming nobody for a heading."""
    if None in pieces:
        return []
    name = "".join(p for p in pieces if p is not None).strip()
    values = [p for p in pieces if p and p.startswith(_VALUE_OF)]
    if not name or '"' in name or (values and values != [name]):
        return []
    if SOUND_NAME.fullmatch(name):
        return []
    return ['[nm t=""]' if HEADING_NAME.fullmatch(name) else f'[nm t="{name}"]']


def _held_name(held: list[tuple[str, str | None]]) -> str:
    """The speaker's name variables shown before a line said give (`_Reader.held`): their
    values, or `&f.name` for one no file sets (as `_name_tag` names a header); "" for a
    name partly unknown."""
    values = [value for _, value in held if value is not None]
    if len(values) == len(held):
        return "".join(values).strip()
    return _VALUE_OF + held[0][0] if len(held) == 1 else ""


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


# An attribute's value in a macro body's tag, where a call's argument is put in quoted,
# or an argument elsewhere in it.
_ARGUMENT_IN_TAG = re.compile(rf"""([\w-]+[ \t]*=[ \t]*){VALUE}|{_ARGUMENT.pattern}""")


def _with_arguments(body: str, attrs: dict[str, str]) -> str:
    """A macro body's tag with the call's arguments in it (`t=%who` → `t="汐里"`): an
    attribute's value holding one is quoted, so that the argument is its value whole
    (`[n name="Mr Smith"]` names "Mr Smith", not "Mr"; `]` or `"` in it ends no tag);
    elsewhere (the `%text` an `[emb exp=mp.text]` shows) it is put in as it is."""

    if "%" not in body and "&mp." not in body:
        return body  # no argument in it (`_ARGUMENT`): most tags of most bodies

    def argument(m: re.Match[str]) -> str:
        return attrs.get((m.group(1) or m.group(3)).lower(), m.group(2) or "")

    def value(m: re.Match[str]) -> str:
        if m.group(1) is None:  # an argument outside any attribute's value
            return _ARGUMENT.sub(argument, m.group(0))
        written = m.group(2)
        if not _ARGUMENT.search(written):
            return m.group(0)
        return m.group(1) + quoted(_ARGUMENT.sub(argument, unquoted(written)))

    return _ARGUMENT_IN_TAG.sub(value, body)


def variable_values(text: str) -> dict[str, str]:
    """Game variable (`f.name`) → the string the text gives it, for each variable given
    one non-empty string only (an empty one says "not typed yet"; several are not
    guessed between): what the player's name is when the player keeps the default."""
    given: dict[str, set[str]] = {}
    for name, double, single in _ASSIGNED.findall(text):
        given.setdefault(name, set()).add(double or single)
    for body in _EDIT.findall(text) if "edit" in text else ():
        attrs = tag_name_and_attrs(f"edit {body}")[1]
        name = attrs.get("name", "").strip()
        if re.fullmatch(_VARIABLE, name):
            given.setdefault(name, set()).add(attrs.get("initial", ""))
    values = {name: {v.strip() for v in strings} - {""} for name, strings in given.items()}
    return {name: strings.pop() for name, strings in values.items() if len(strings) == 1}


def with_display_names(aliases: Iterable[str], names: dict[str, str]) -> list[str]:
    """The aliases, and the display name of each that is a TyranoScript character id
    (compared as speaker names are): an alias "akane" names the lines credited to あかね."""
    aliases = list(aliases)
    by_id = {normalise_name(chara_id): shown for chara_id, shown in names.items()}
    extra = [by_id[key] for a in aliases if (key := normalise_name(a)) in by_id]
    return aliases + [name for name in extra if name not in aliases]


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
        if tag in learnt or _MACRO_KEY + tag in names or not value:
            continue
        if called[tag] >= calls.named and (is_alias(value) or is_alias(names.get(value, value))):
            learnt[tag] = key
    return learnt


class _Reader:
    def __init__(self, source: str, names: dict[str, str], options: ParseOptions) -> None:
        self.source = source
        # TyranoScript character id → display name (`#akane` is あかね's line), and
        # the tags each macro runs (`_MACRO_KEY`).
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
        key = _VALUE_OF + attrs.get("exp", "").strip()
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
        if not who and _MACRO_KEY + name in self.names:
            self.call(name, attrs, body)
            return
        who = who or attrs.get("n", "")
        if who.startswith(_VALUE_OF):  # `t=&f.name`: the variable's value
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
        value = self.names.get(_VALUE_OF + exp)
        if not self.said and not self.in_choice and _GAME_VARIABLE.fullmatch(exp):
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
        if (colon or said.startswith(_SAID_OPENERS)) and (name := _held_name(held)):
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
        tags = self.names.get(_MACRO_KEY + name)
        if tags is not None:
            if _INLINE_BODY in tags:  # fixed text: shown only inside a line begun
                run, _, whole = tags.partition(_INLINE_BODY)
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
        argument = _argument_shown_by(token.group(1))
        if argument is None:
            self.tag(_with_arguments(token.group(1), arguments))
        else:
            self.text(_with_arguments(argument, arguments), self.number)

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

"""Macros the .ks files given define (`[macro name=…]` … `[endmacro]`): each read as the
tags its body runs where it is called (`macro_tags`), what of its text is shown there
(`_MacroBody`), and the `[nm]` a name box or a `【…】` header written in it stands for.
`display_names` gives them under `MACRO_KEY` and a macro's name, and the reader runs them
(`Reader.call`).
"""

from __future__ import annotations

from dataprep.formats.common import is_code
from dataprep.formats.kirikiri.macro_arguments import argument_named, shown_argument
from dataprep.formats.kirikiri.syntax import (
    BLOCKS,
    HEADING_NAME,
    SOUND_NAME,
    TAG_WORD,
    TOKEN,
    outside_code,
    shown_token,
    tag_name_and_attrs,
)
from dataprep.formats.kirikiri.tags import (
    CHARA_PTEXT,
    CHARACTERS,
    CHOICE_END,
    CHOICE_START,
    EMBED,
    MACRO_END,
    MACRO_START,
    NAME_ATTRIBUTES,
    NAME_TAGS,
    PAGE,
    WAIT,
)
from dataprep.formats.kirikiri.variables import GAME_VARIABLE, VALUE_OF

# Under this key plus a macro's name (`@汐里`), `display_names` gives the tags its body
# runs (`macro_tags`): `[nm t="汐里"]` for a name macro, `[p][cm]` for a page macro; a
# macro defined, even with no such tag (`[macro name=暗転]`), is no character's name.
MACRO_KEY = "@"
# `[current layer=message1]`: what follows is written to that message layer; a layer but
# the main one (`message0`, or the current `message`) is a name box in a macro's body.
_CURRENT_LAYER = "current"
_MAIN_LAYERS = frozenset({"", "message", "message0"})
# TyranoScript's `[ptext text=…]`, text placed on a layer: a macro writing the call's
# name with it (`[ptext name=chara_name_area text=&mp.name]`, its sample game's) draws
# the name box itself.
_PTEXT = "ptext"
# What a macro's body may hold that is not run where it is called (`macro_tags`): as its
# text, what it shows is not read.
_SHOWS_TEXT = CHARACTERS | {EMBED, CHOICE_START, CHOICE_END}
# Tags that make a macro's fixed text no part of a line where it is called: ending or
# waiting on a message, naming a speaker, a choice (a system message, a prompt).
_NOT_INLINE = WAIT | PAGE | NAME_TAGS | {CHOICE_START, CHOICE_END}
# Between the tags a macro of fixed text runs at every call and its whole body, run
# instead inside a line already begun (`_MacroBody.tags`).
INLINE_BODY = "\x01"


def macro_tags(text: str) -> dict[str, str]:
    """Each macro the text defines (`[macro name=汐里]` or `@macro name=汐里` to its
    `endmacro`; names as tags compare them, lower case) → the tags of its body, as `[…]`
    text, that `Reader.call` runs where it is called: a name macro's `[nm t="汐里"]` (a
    TyranoScript `#汐里` line as the `[chara_ptext name="汐里"]` it stands for), a page
    macro's `[p][cm]`, other macros' calls. Not its text, nor what shows text (`emb`,
    `ch`, a choice), nor code (`[iscript]` … `[endscript]`); but an `[emb exp="mp.name"]`
    written to a name box (`_name_box_emb`), a `[ptext text=&mp.name]` (`_name_ptext`),
    or in a `【…】` leading its text (`_NameHeader`), is its `[nm t="%name"]`; and a body showing the call's arguments
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
                elif name == _PTEXT and (shown := _name_ptext(attrs)):
                    defining.tag(f'[nm t="{shown}"]')
            elif header.is_open:  # `【[emb exp="mp.name"]】`: a piece of the name
                header.add(_name_box_emb(attrs) if name == EMBED else attrs.get("text"))
            elif name == EMBED and in_name_box and (shown := _name_box_emb(attrs)):
                defining.tag(f'[nm t="{shown}"]')
            elif not in_name_box:
                header.shown()
                defining.show_tag(f"[{body.strip()}]", shown_argument(name, attrs))
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
    would (before a message's text it may name the speaker: `Reader.embed`).
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
        """The body as `Reader.call` runs it: whole when it shows an argument or a
        variable; of fixed text, its tags, and after `INLINE_BODY` the whole body for a
        call inside a line, when its text may be part of one."""
        pieces = self._named()
        whole = "".join(p for p, _, _ in pieces)
        if self.shows_variable or any(argument for _, _, argument in pieces):
            return whole
        run = "".join(p for p, shown, _ in pieces if not shown)
        return run + INLINE_BODY + whole if self.inline and run != whole else run

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


def _shows_variable(name: str, attrs: dict[str, str]) -> bool:
    """Whether a tag of a macro's body shows a game variable: `[emb exp=f.name]`."""
    return name == EMBED and GAME_VARIABLE.fullmatch(attrs.get("exp", "").strip()) is not None


def _name_box_emb(attrs: dict[str, str]) -> str:
    """What an `[emb]` a macro writes to a message layer of its own (KAG's name box,
    `[current layer=message1]`) names as an `[nm t=…]` would: the call's argument
    (`exp="mp.name"` is `%name`) or a variable's value (`exp="f.name"`); "" for other
    expressions."""
    if (argument := shown_argument(EMBED, attrs)) is not None:
        return argument
    exp = attrs.get("exp", "").strip()
    return VALUE_OF + exp if GAME_VARIABLE.fullmatch(exp) else ""


def _name_ptext(attrs: dict[str, str]) -> str:
    """The call's name argument (`NAME_ATTRIBUTES`) a `[ptext]` of a macro's body writes
    whole, as its value is written (`&mp.name`, `%name`): the `t=` of the `[nm]` it
    stands for; "" for other text (`text=%title`, a chapter's title on the stage)."""
    text = attrs.get("text", "").strip()
    return text if argument_named(text) in NAME_ATTRIBUTES and '"' not in text else ""


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
    values = [p for p in pieces if p and p.startswith(VALUE_OF)]
    if not name or '"' in name or (values and values != [name]):
        return []
    if SOUND_NAME.fullmatch(name):
        return []
    return ['[nm t=""]' if HEADING_NAME.fullmatch(name) else f'[nm t="{name}"]']

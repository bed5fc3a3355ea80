"""The reader (`Reader`): one pass over a scenario, fed its tags and text in order by
`parser`. It holds the message being read (its text, its speaker, the quotes open in it),
what is skipped (a choice, a macro's definition), the macros it runs (`Reader.call`) and
the calls it counts for the hints, and turns each message into an utterance when it ends
(`Reader.flush`).
"""

from __future__ import annotations

import re
from collections import Counter

from dataprep.formats.common import (
    MACRO_LEFT_OUT,
    UNRESOLVED_VARIABLE,
    ParseOptions,
    is_alias,
    join_pieces,
    tidy_name,
)
from dataprep.formats.kirikiri.branches import CHAIN_TAGS, IF, Branches
from dataprep.formats.kirikiri.macro_arguments import argument_shown_by, with_arguments
from dataprep.formats.kirikiri.macros import INLINE_BODY, MACRO_KEY
from dataprep.formats.kirikiri.name_tags import (
    NAME_ATTRIBUTE_SET,
    NAMED_TEXT,
    NOT_NAME_TAG_ATTRIBUTES,
    may_be_name_tag,
    name_attributes,
)
from dataprep.formats.kirikiri.syntax import (
    HEADER,
    HEADING_NAME,
    SOUND_NAME,
    TOKEN,
    shown_token,
    tag_name_and_attrs,
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
    NAME_ATTRIBUTES,
    NAME_TAGS,
    OWN_TAGS,
    OWN_TEXT_TAGS,
    PAGE,
    WAIT,
)
from dataprep.formats.kirikiri.undefined_calls import line_attribute, looks_like_name
from dataprep.formats.kirikiri.variables import GAME_VARIABLE, VALUE_OF, assignments, held_name
from dataprep.records import Utterance

_TAG_IN_NAME = re.compile(r"\[([^\[\]]*)\]")
_PLAIN_VARIABLE = re.compile(r"[A-Za-z_][\w.]*")
# Macros calling macros: how deep calls are followed (one calling itself stops there).
_DEEPEST_CALL = 8
# What a tag no file defines, ASCII (`@shiori`), may not take to be taken for a name macro
# whose definition was left out (`unnamed_calls`): commands (`@bg storage=…`,
# `[chara_show name=akane]`); nor may it be one of the engine's own tags (`OWN_TAGS`).
_NOT_NAME_MACRO_ATTRIBUTES = COMMAND_ATTRIBUTES | {"storage", "name"}
# Marks after a name leading a line (`悠真：そうだな`), as after a `【名】` header.
_NAME_COLONS = ("：", ":")
# Quote marks of a line a click wait may fall inside of, opener and closer.
_QUOTES = (("「", "」"), ("『", "』"), ("“", "”"))
# How a line someone says opens: `「…」`, `（…）` (a thought).
_SAID_OPENERS = (*(opener for opener, _ in _QUOTES), "（", "(")
# Stands for a visual line break until the utterance is closed; see `_join`.
BREAK = "\x00"


def _join(parts: list[str]) -> str:
    """Line breaks vanish between CJK characters and become a space between words of a
    script that writes spaces (`join_pieces`); blanks beside a break go with it: a
    full-width space after `[r]` indents the next line on screen (`好きなの。[r]　小さい頃`),
    it is no space in what is said."""
    text = "".join(parts)
    return join_pieces(text.split(BREAK)) if BREAK in text else text.strip()


class Reader:
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
        self.text_line = 0  # the line the message's text was last shown on
        # The arguments of the macro calls running, the innermost last (`value_named`).
        self.call_arguments: list[dict[str, str]] = []
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
        # The `[if]` chains open, and the branch each line said is in.
        self.branches = Branches()
        # `&f.name` → the string an `[eval]` of the macro being called gave it (`assign`).
        self.assigned: dict[str, str] = {}
        # The speaker and the tag (`[saudio]`) of a call no file defines given a line's
        # text before the message's (`lose_line`): what it was given is lost.
        self.lost: tuple[str | None, str] | None = None

    def flush(self) -> None:
        text = _join(self.parts)
        if self.lost is not None:
            if not text and not self.unresolved:
                self.lost_line(*self.lost)
            self.lost = None
        if (text or self.unresolved) and self.speaker is not None:
            self.branches.stamp()  # a line said in an `[if]` block takes its branch
        branch, forked_from = self.branches.branch, self.branches.forked_from
        if self.unresolved or text:
            # A line with a hole (`[emb]` of a variable no file sets) is marked unusable;
            # it keeps `[f.name]`, so that the run names the variable (`embedded`).
            self.out.append(
                Utterance(
                    self.speaker,
                    text,
                    self.source,
                    self.start_line,
                    self.scene,
                    UNRESOLVED_VARIABLE if self.unresolved else None,
                    branch,
                    forked_from,
                    shown=not self.unresolved,
                )
            )
            self.unresolved = False
        self.parts = []
        self.said = False
        self.held = []
        self.quotes = [0] * len(_QUOTES)
        self.undefined_call = None
        self.unlearnt_call = None
        self.maybe_speaker = None

    def lost_line(self, who: str | None, tag: str) -> None:
        """The unusable line standing for what a call no file defines was given, in a
        message saying nothing else (`lose_line`)."""
        if who is not None:
            self.branches.stamp()
        branch, forked_from = self.branches.branch, self.branches.forked_from
        speaker = tidy_name(who) if who else None
        line = Utterance(speaker, tag, self.source, self.start_line, self.scene, MACRO_LEFT_OUT)
        line.branch, line.forked_from = branch, forked_from
        self.out.append(line)

    def shown_name(self, header: str) -> str:
        """A `【…】` header's name as shown: `【[emb exp="f.name"]】` is the player's name
        (`&f.name` while no file given sets it), and other tags in it show nothing."""
        if "[" not in header:
            return header
        return _TAG_IN_NAME.sub(self._shown_tag, header)

    def name_header(self, header: str) -> None:
        """`【回想】「……」` is narration: the header is never text, and a heading names
        nobody. A voice cue there (`【voice:atr_0012】`) changes no speaker: `#亚托莉`
        still says it. `【アトリ/女の子】` (KAGEX's 【name/name shown】, before she gives
        her name) is アトリ's, as `[nm t=アトリ/女の子]` is."""
        name = self.shown_name(header)
        if SOUND_NAME.fullmatch(name) is None:
            name = name.split("/")[0].strip()
            self.set_speaker(None if HEADING_NAME.fullmatch(name) else name, False)

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
        elif name == "eval" and self.calls:
            self.assign(attrs.get("exp", ""))
        elif name in CHAIN_TAGS and not self.calls:
            self.if_chain(name)
        elif name == CHOICE_START:
            self.flush()
            self.in_choice = True
        elif name == CHOICE_END:
            self.in_choice = False
        elif name == "r":
            self.parts.append(BREAK)
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

    def if_chain(self, name: str) -> None:
        """`[if]` … `[elsif]` / `[else]` … `[endif]`: each block a branch (`branches`); a
        block's message ends with it, but for a chain inside a message's text."""
        if name != IF and self.branches.in_block():
            self.flush()
        self.branches.tag(name, in_message=self.said)

    def assign(self, exp: str) -> None:
        """`[eval exp="f.name='Yue'"]` in a called macro's body: the variable holds the
        string for the rest of the call, so that the `【[emb exp=f.name]】` header after it
        names 'Yue' at this call (a speaker macro per character keeping the name there)."""
        for variable, value in assignments(exp):
            self.assigned[VALUE_OF + variable] = value

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
            who = self.value_named(who.strip())
        self.set_speaker(who.split("/")[0].strip(), sticky=False)

    def value_named(self, variable: str) -> str:
        """The name a variable (`&f.name`) shows: as a called macro's body set it, or a
        file given does; else, in a macro's body, the name its call gives (`name=`, `n=`,
        … `NAME_ATTRIBUTES`), which a body copying its arguments in script
        (`tf.ccfn = clone(mp)`, then `# &tf.ccfn.speaker`) shows; else as written."""
        value = self.assigned.get(variable) or self.names.get(variable)
        if value is not None:
            return value
        if self.call_arguments:
            arguments = self.call_arguments[-1]
            given = next((arguments[k] for k in NAME_ATTRIBUTES if arguments.get(k)), None)
            if given is not None:
                return self.names.get(given.strip(), given.strip())
        return variable

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
        text reads on from their values. What is left of the chunk to show. Under a name
        box a `#アトリ` line set, a variable no file sets names nobody: what it shows
        before her line is not known to be a name (`[emb exp=sf.space]「…」`, an indent)."""
        held, self.held = self.held, []
        said = chunk.lstrip()
        colon = said.startswith(_NAME_COLONS)
        in_name_box = self.sticky and self.speaker is not None
        if (
            (colon or said.startswith(_SAID_OPENERS))
            and (name := held_name(held))
            and not (in_name_box and name.startswith(VALUE_OF))
        ):
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
        if who.startswith(VALUE_OF):  # `# &tf.speaker`: the variable's value
            who = self.value_named(who)
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
                self.call_arguments.append(attrs)
                for m in TOKEN.finditer(tags):
                    self.run_body_token(m, attrs)
                self.call_arguments.pop()
                self.calls -= 1
                if not self.calls:
                    self.assigned.clear()
            return
        written = body.split(None, 1)[0] if body.strip() else ""
        if self.count_text_call(name, written, attrs) and not self.said:
            self.lose_line(written, attrs)
        # A game's own name tag on a line after the message's text begins the next
        # message, as a `【名】` header does, waits or no wait (`@Hitret`, `[k]` made in
        # TJS); inside a line's text (`「好き[cn name=x]」`) it names no one.
        begins = self.said and self.number > self.text_line and not self.quote_open()
        if begins and name in self.options.kirikiri_name_tags:
            self.flush()
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
        elif not looks_like_name(written) or not COMMAND_ATTRIBUTES.isdisjoint(attrs):
            return
        elif self.waited:
            self.maybe_speaker = written
        else:
            self.set_speaker(written, sticky=False)

    def name_attribute(self, name: str, attrs: dict[str, str]) -> tuple[str, str] | None:
        """The name attribute (`NAME_ATTRIBUTES`) of a call of a tag no file defines that
        may be a game's own name tag, and its value: the attribute learnt for the tag
        (`name_tags`) when it has it, else the first it has; None for the engines' tags
        and a command's call (`NameCalls`)."""
        keys = name_attributes(name)
        if NAME_ATTRIBUTE_SET.isdisjoint(attrs) and (
            NAMED_TEXT not in keys or NAMED_TEXT not in attrs
        ):
            return None  # most calls: `[playse storage=…]`, `@汐里 voice=…`
        if not may_be_name_tag(name) or any(
            key in NOT_NAME_TAG_ATTRIBUTES and key not in keys for key in attrs
        ):
            return None
        learnt = self.options.kirikiri_name_tags.get(name)
        if learnt is None or learnt not in attrs:
            learnt = next(key for key in keys if key in attrs)
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

    def count_text_call(self, name: str, written: str, attrs: dict[str, str]) -> bool:
        """Whether a tag no file defines is given what looks like a line's text
        (`[say text=…]`): a macro showing its argument (`macros._MacroBody`) whose
        definition was left out, which loses the line (`text_calls`)."""
        if self.in_choice or name in OWN_TAGS or name in OWN_TEXT_TAGS:
            return False
        if (key := line_attribute(attrs)) is None:
            return False
        self.text_calls[written, key] += 1
        return True

    def lose_line(self, written: str, attrs: dict[str, str]) -> None:
        """A call of a tag no file defines given a line's text (`count_text_call`: `@saudio
        t=アトリ front="「…」"`), before a message's text. Its lines are not read: what its
        attributes hold may be a line, several, or a note (`@Sub mess="「ふう……」"` before
        the line's translation), and in what order the macro shows them is its own. But
        a message saying nothing else lost what the call was given: when it ends (`flush`),
        an unusable line (`MACRO_LEFT_OUT`) stands for it, of the speaker the call names
        (`t=`, `name=`, … `NAME_ATTRIBUTES`) or the message's, and ends the exchange it is
        in, so that the lines on either side of it are not one turn. Its text is the tag
        (`[saudio]`), so that the run names it."""
        self.flush()  # another call's line lost before it
        self.start_line = self.number
        given = next((v.strip() for k in NAME_ATTRIBUTES if (v := attrs.get(k, "")).strip()), "")
        self.lost = (self.names.get(given, given) if given else self.speaker, f"[{written}]")

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
        self.text_line = number
        for i, (opener, closer) in enumerate(_QUOTES):
            if opener in chunk or closer in chunk:
                self.quotes[i] = max(0, self.quotes[i] + chunk.count(opener) - chunk.count(closer))

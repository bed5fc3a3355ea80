"""The Ren'Py parser: say statements of `.rpy` scripts and their translation files.

`define x = Character("Name")` or `default x = …` (its arguments on as many lines as its
brackets run) maps a variable to a name; `x "text"` is a line of x, `"Name" "text"` a line of a
literal name, a bare `"text"` narration (`x"text"`, with no space, is x's too). A triple-quoted
string (`e \"\"\"…\"\"\"`) is Ren'Py's monologue mode: each paragraph of it (blank
lines between them) is a say statement of its own; `rpy monologue single` cuts at every
line end instead, `rpy monologue none` not at all. In a translation file each
`translate <lang> <id>:` block holds the original as a `#` comment and the translated
line below it; comments are skipped, so the translated line is what we read.
`ParseOptions.renpy_language` says which say statements are read: the original ones
(outside translate blocks) or one language's translated ones, so that a game given with
its `game/tl/` folder does not yield every line twice. Python that says a line has no
translate block: the original's runs in every language, and Ren'Py shows each string it
says as that language's `translate <lang> strings:` block translates it (`old "…"` /
`new "…"`, written out for the strings a game wraps in `_()`), or as written if none
does; `[var!t]` shows a variable's value so translated (ParseOptions.renpy_strings), and
every speaker's name (`Character(_("Eileen"))`) is shown so translated, in any line.
A translation file's `translate <lang> <id>:` block names the say statement it translates
by its identifier (`say_ids.say_identifiers`), and by the comment above it
(`# game/script.rpy:12`, `translations.translation_origins`), stale once the
script is edited: the pipeline puts its lines there in the original (`parse`'s
`translated`), among what the original's Python says, in the original's labels and menu
choices, as the game shows them.
Labels (and the label part of a translation id) are scenes. The choices of a menu and
the blocks of an `if`/`elif`/`else` chain are branches (`Utterance.branch`), as the game
runs one of them. Python lines and blocks
(`$ …`, `python:`, `init python:`), screen, style, transform, image and layeredimage
blocks and ATL blocks (`show x:`) hold code, images and interface text, never dialogue,
and are skipped; but Python that says a line,
`renpy.say(e, "text")` or a character called as a function, `e("text")`, is the say
statement `e "text"` and read so (but `e` is the default store's, which a
`define character.e` does not hide): on a `$` line, or as a statement of a `python:` block
in the story (not of an `init python:` block, which runs before the game starts, where
no line can be shown, nor of a function's body, which runs where it is called). A `$`
line goes on over the lines below while a bracket in it is open, or after a backslash
that ends its line (`$ e \\`, then `("Hi")`), as Python reads it.
Adjacent string literals (`e("Hello, " "world.")`) are one string, as Python joins them,
and so are literals added (`"Hello, " + "world."`); a
say whose text is not string literals alone is a line of unknown text: dropped, and counted
as COMPUTED_TEXT; a `$` say call never closed is dropped as UNCLOSED_CALL, and a say
statement whose string is never closed (a stray quote mark) as UNCLOSED_STRING.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass

from dataprep.formats.common import UNCLOSED_STRING, UNRESOLVED_VARIABLE, ParseOptions
from dataprep.formats.renpy.characters import definitions_of, python_speaker
from dataprep.formats.renpy.labels import GoesTo, label_statement, labels_of, statement_goes_to
from dataprep.formats.renpy.lines import logical_line
from dataprep.formats.renpy.names import story_names
from dataprep.formats.renpy.python_say import (
    SAY_FUNCTION,
    Said,
    callee,
    in_language,
    python_block_says,
    python_says,
    unclosed_say,
)
from dataprep.formats.renpy.statements import (
    BEFORE_COMMENT,
    CODE_BLOCK,
    LABEL,
    MENU,
    MONOLOGUE,
    NOT_SPEAKERS,
    STR,
    TRIPLE,
    monologue_lines,
    one_line,
)
from dataprep.formats.renpy.text import shown_name, shown_text, unescape
from dataprep.formats.renpy.translations import NOT_DIALOGUE_IDS, ORIGINAL, TRANSLATE
from dataprep.records import Utterance

_TRANSLATION_ID_HASH = re.compile(r"_[0-9a-f]{8}(?:_\d+)?$")
# `who attrs @ temporary-attrs "text"` (`_SAY_WHO`, then the string): attributes are
# words, `-word` removes one, and those after `@` hold for this line only. The string may
# follow the speaker with no space (`xw"你好"`), as Ren'Py reads it, but not a name of
# string prefixes alone: Ren'Py reads `u"…"`, `f"…"`, `rf"…"` as a Python string (a parse
# error, no line), and `r"…"` as a raw string, narration (`_RAW`), whatever is defined.
_NOT_PREFIX = r"""(?![urfURF]+["'])"""
_SAY_WHO = (
    rf"""\s*(?:(?P<who>{_NOT_PREFIX}[^\W\d][\w.]*)"""
    r"""(?P<attrs>(?:(?:\s*@\s*|\s+)(?![ru]["'])[\w-]+)*)(?:\s+|(?=["']))"""
    rf"""|(?P<whostr>{STR})\s+)?"""
)
# `r"…"`: a raw string, its backslashes as written.
_RAW = "(?P<raw>r?)"
_SAY = re.compile(rf"""{_SAY_WHO}{_RAW}(?P<text>{STR})(?P<rest>.*)$""")
# Characters Ren'Py defines with no name: `nvl "…"` is narration in NVL mode (`nvl` is
# the default NVLCharacter; `nvl clear`, `nvl show` hold no string, so are no line).
_NARRATORS = frozenset({"narrator", "centered", "vcentered", "nvl", "nvl_narrator"})
# A say statement of a triple-quoted string: as _SAY, its lines joined by "\n".
_SAY_TRIPLE = re.compile(
    rf"""\s*(?:(?P<who>{_NOT_PREFIX}[^\W\d][\w.]*)"""
    r"""(?P<attrs>(?:(?:[ \t]*@[ \t]*|[ \t]+)(?![ru]["'])[\w-]+)*)(?:[ \t]+|(?=["']))"""
    rf"""|(?P<whostr>{STR})[ \t]+)?{_RAW}(?P<text>{TRIPLE})(?P<rest>.*)$""",
    re.S,
)
# A say statement whose string is never closed (a stray quote mark, a parse error to
# Ren'Py) is dropped as UNCLOSED_STRING: its line alone, the text after the quote mark.
_UNCLOSED_SAY = re.compile(
    rf"""{_SAY_WHO}(?P<quote>["'])(?P<text>(?:(?!(?P=quote))[^\\]|\\.)*)(?P<rest>)$"""
)


def parse(
    text: str,
    source: str,
    options: ParseOptions,
    translated: Mapping[int, list[Utterance]] | None = None,
) -> list[Utterance]:
    """The lines of a script. `translated`: line → the lines of the chosen language's
    translation of the say statement there (read from game/tl/, see
    `translations.translation_origins`), which take its place in play; one whose
    line holds no say statement (a translation of an older script) comes where its line
    is."""
    chosen = options.renpy_language
    chosen = None if chosen == ORIGINAL else chosen
    every_language = options.renpy_language is None
    # The chosen language's string translations: what a string shows in that language.
    strings = options.renpy_strings if chosen is not None else {}
    characters = dict(options.renpy_characters)
    lines = text.splitlines()
    definitions = definitions_of(lines)
    own, dynamic = definitions.speakers()
    # Speaker → the brackets its lines show in: this file's own thought characters, where
    # the pipeline resolved none (as their names below).
    thoughts = {
        var: brackets
        for var, brackets in definitions.thought_brackets().items()
        if var not in characters
    }
    thoughts.update(options.renpy_thoughts)
    for var, name in own.items():
        # Not over the name the pipeline resolved from every file's definitions (a
        # `default` in another file is the one in play) and variables.
        if var not in characters:
            characters[var] = name if var in dynamic else shown_name(name, strings)
    names = {**characters, **options.renpy_variables}
    # What Python calls to say a line: renpy.say, and each character called as a function.
    callers = {SAY_FUNCTION, "extend", *_NARRATORS, *characters}
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = "0"
    scene_label = ""  # the last global label: the one a local label is under
    last_speaker: str | None = None
    block_indent = -1  # indentation of the statement whose code block we are in
    # The language of the `translate` dialogue block we are in (None outside one), and the
    # block's indentation; a say statement is read when its language is the chosen one.
    language, translate_indent = None, -1
    monologue = "double"
    # Each choice of a menu, and what follows the menu, is a branch of its own: a choice's
    # lines never follow another choice's in play. Each choice follows the lines before
    # its menu (`forked_from`: the branch the menu is in); what follows the menu comes
    # after one choice or another, so after none in particular. So are the blocks of an
    # `if`/`elif`/`else` chain (`_Fork.chain`): the game runs one of them. `forks`: the
    # open menus and chains, innermost last.
    branch = 0
    forked_from: int | None = None
    forks: list[_Fork] = []
    says_read = 0  # say statements reached: a chain that reached none changes nothing
    joined_until = 0  # the last line joined into a statement that began above it
    # The story's `$ e = Character(…)`: e's name from its line on.
    redefined = story_names(definitions, strings, options.renpy_variables, options.renpy_player)
    # This script's labels: a jump to one names nothing (`_name_after`).
    own_labels = labels_of(lines) if options.renpy_label_characters else set()
    next_redefined = 0
    # The last line the previous say statement gave: an `extend` adds its text to it.
    previous: Utterance | None = None
    # The brackets the last speaker's lines show in (a thought character's), or None.
    brackets: tuple[str, str] | None = None
    # Translated lines by the line of the say statement they translate, and those lines
    # in order: a line reached with its translation not yet put in place gets it there.
    placed = dict(translated or {})
    waiting = sorted(placed)
    next_waiting = 0
    for number, raw in enumerate(lines, 1):
        while next_waiting < len(waiting) and waiting[next_waiting] < number:
            stale = placed.pop(waiting[next_waiting], None)
            next_waiting += 1
            if stale:
                says_read += 1
                previous = _put(stale, out, scene, branch, forked_from)
                last_speaker = previous.speaker
        while next_redefined < len(redefined) and redefined[next_redefined][0] <= number:
            _, redefined_speaker, redefined_name = redefined[next_redefined]
            characters[redefined_speaker] = redefined_name
            next_redefined += 1
        if number <= joined_until:
            continue
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        # The lines a statement goes on over are its own, whatever statement it is (a
        # monologue, `$ e(` and its arguments below, a docstring in a python block).
        whole = logical_line(lines, number, python=line[0] == "$")
        if whole is not None:
            joined_until = whole.last
        indent = len(raw) - len(raw.lstrip())
        if block_indent >= 0:
            if indent > block_indent:
                continue
            block_indent = -1
        if translate_indent >= 0 and indent <= translate_indent:
            language, translate_indent = None, -1
        clause = _CLAUSE.match(line) if line[0] in "ie" else None
        if forks and indent <= forks[-1].indent:
            branch, forked_from = _close_forks(
                forks, indent, clause is not None, branch, forked_from, says_read
            )
        if clause is not None:
            if clause.group(1) == "if":
                forks.append(_Fork(indent, branch, forked_from, says_read, chain=True))
            elif not (forks and forks[-1].chain and forks[-1].indent == indent):
                continue  # an `else` of no chain we follow
            elif clause.group(2):  # `else:`
                forks[-1].has_else = True
            branch += 1
            forked_from = forks[-1].parent_of_choices(out)
            continue
        spoken: list[Said]
        from_python = line[0] == "$"
        if from_python:
            first = line[1:].lstrip()
            statement = "\n".join([first, *lines[number:joined_until]])
            if first.startswith("renpy.") and (goes := statement_goes_to(line, whole, scene_label)):
                _name_after(goes, characters, options.renpy_label_characters, own_labels)
                continue
            if callee(statement) not in callers:
                continue
            if whole is None:
                # A say call left open: a line of its speaker, text unknown, counted.
                unclosed = unclosed_say(first, number)
                spoken = [] if unclosed is None else [unclosed]
            else:
                spoken = python_says(statement, number, callers) or []
        elif CODE_BLOCK.match(line):
            block_indent = indent
            # Only a `python:` block of the story says anything: an `init python:` one runs
            # before the game starts, and `python early` as the script is loaded.
            if not line.startswith("python") or "early" in line.partition(":")[0].split():
                continue
            spoken = python_block_says(lines, number, indent, callers)
            from_python = True
        else:
            if marker is not None and marker(line):
                scene = f"marker{number}"
                continue
            if line.startswith("menu") and MENU.match(line):
                forks.append(_Fork(indent, branch, forked_from, says_read))
                continue
            if line.startswith("label "):
                m = LABEL.match(line)
                if m:
                    # A local label (`label .after:`) is `start.after` under `label start:`,
                    # as Ren'Py names it: another label's `.after` is another scene.
                    scene, scene_label = label_statement(m.group(1), scene_label)
                continue
            if goes := statement_goes_to(line, whole, scene_label):
                _name_after(goes, characters, options.renpy_label_characters, own_labels)
                continue
            if line.startswith("translate "):
                m = TRANSLATE.match(line)
                if m and m.group(2) not in NOT_DIALOGUE_IDS:
                    label = _TRANSLATION_ID_HASH.sub("", m.group(2))
                    scene = label or scene
                    language = None if m.group(1) == "None" else m.group(1)
                    translate_indent = indent
                else:
                    # `strings` (old/new pairs, read by translated_strings), `python`,
                    # `style <name>`: nothing in them is said, not even a `$ e("…")`.
                    block_indent = indent
                continue
            if line.startswith("rpy "):
                m = MONOLOGUE.match(line)
                if m:
                    monologue = m.group(1)
                continue
            # A statement never closed is read as its line alone.
            statement = line if whole is None else whole.text
            if '"' not in statement and "'" not in statement:
                continue
            # (line number, the string as written, without its quotes) for each line said.
            said: list[tuple[int, str]]
            unusable = None
            m = None
            if '"""' in statement or "'''" in statement:
                m = _SAY_TRIPLE.match(statement)
                if m is not None:
                    said = monologue_lines(m.group("text"), number, monologue)
            if m is None:
                m = _SAY.match(one_line(statement))
                if m is not None:
                    said = [(number, m.group("text")[1:-1])]
                elif (
                    whole is None
                    and (m := _UNCLOSED_SAY.match(line)) is not None
                    and m.group("text").strip()  # a lone quote mark loses no words
                ):
                    said, unusable = [(number, m.group("text"))], UNCLOSED_STRING
                else:
                    continue
            rest = m.group("rest")
            if "#" in rest:
                # `"Yes":  # she agrees` is a choice all the same: Ren'Py drops comments.
                rest = BEFORE_COMMENT.match(rest).group(0)  # type: ignore[union-attr]
            if rest.strip().endswith(":"):
                branch += 1
                forked_from = forks[-1].parent_of_choices(out) if forks else None
                continue  # a menu choice, not a line
            if m.groupdict().get("raw"):
                # A raw string (`r"…"`) shows its backslashes as written.
                said = [(at, written.replace("\\", "\\\\")) for at, written in said]
            spoken = [Said(m.group("who"), m.group("whostr"), said, unusable)]
        if spoken:
            says_read += 1
        # Python outside a translate block runs in every language (its strings shown as
        # the language's string translations give them); an original say statement is
        # shown as its translation (`translated`), put here; with none given, the Python
        # lines read around it did not follow each other in play.
        if (language != chosen and not every_language) and (
            language is not None or not from_python
        ):
            translation = placed.pop(number, None) if language is None else None
            if translation:
                # Its translation, read from game/tl/, in its place.
                previous = _put(translation, out, scene, branch, forked_from)
                last_speaker = previous.speaker
            elif language is None and not (spoken and all(s.who == "extend" for s in spoken)):
                # No translation: the exchange ends here. Not at an `extend`: its own
                # translation already continued the translated line before it.
                branch += 1
                forked_from = None
            continue
        if from_python and chosen is not None:
            # Python shows its strings in the chosen language; the original's, with none
            # for a string, shows the original's text: dropped as untranslated.
            spoken = [in_language(spoke, strings, original=language is None) for spoke in spoken]
        for who, whostr, said, unusable in spoken:
            if who in NOT_SPEAKERS:
                continue
            if who == "extend":
                if (
                    said
                    and previous is not None
                    and previous.scene == scene
                    and previous.branch == branch
                ):
                    _extend(previous, said[0][1], names, unusable, strings, brackets)
                    said = said[1:]
                speaker = last_speaker
            elif whostr is not None:
                speaker, brackets = shown_name(unescape(whostr[1:-1]), strings) or None, None
            elif who is None or who in _NARRATORS:
                speaker, brackets = None, None
            else:
                found = python_speaker(who, characters) if from_python else who
                speaker = characters.get(found, found) or None
                brackets = thoughts.get(found)
            if who != "extend":
                previous = None
            for at, written in said:
                shown = (
                    None
                    if unusable
                    else shown_text(unescape(written, in_line=True), names, strings=strings)
                )
                if shown is None:
                    dropped = unusable or UNRESOLVED_VARIABLE
                    previous = Utterance(
                        speaker, written, source, at, scene, dropped, branch, forked_from
                    )
                    out.append(previous)
                elif shown:
                    if brackets is not None:
                        shown = f"{brackets[0]}{shown}{brackets[1]}"
                    previous = Utterance(
                        speaker, shown, source, at, scene, None, branch, forked_from, shown=True
                    )
                    previous.thought = brackets is not None
                    out.append(previous)
            last_speaker = speaker
    # Those of lines past the script's end, last.
    for past in sorted(placed):
        if placed[past]:
            _put(placed[past], out, scene, branch, forked_from)
    return out


# The statement of each block of an `if` chain: `if cond:`, `elif cond:`, `else:`.
_CLAUSE = re.compile(r"(if|elif)\b|(else)(?=\s*:)")


@dataclass(slots=True)
class _Fork:
    """An open menu, or `if`/`elif`/`else` chain (`chain`): its statement's indent, the
    branch and `forked_from` in force at it. `says_read`: the say statements reached
    before it."""

    indent: int
    branch: int
    forked_from: int | None
    says_read: int
    chain: bool = False
    has_else: bool = False
    parent: int | None = None
    parent_known: bool = False

    def parent_of_choices(self, out: list[Utterance]) -> int | None:
        """The branch each choice or block goes on from (known at the first): the one the
        menu is in; or, while that has no line yet (a menu right after a chain, or at the
        top of a choice), the one it goes on from, whose lines were the last on screen."""
        if not self.parent_known:
            own_lines = bool(out) and out[-1].branch == self.branch
            self.parent = self.branch if own_lines else self.forked_from
            self.parent_known = True
        return self.parent


def _close_forks(
    forks: list[_Fork],
    indent: int,
    at_clause: bool,
    branch: int,
    forked_from: int | None,
    says_read: int,
) -> tuple[int, int | None]:
    """Close the menus and chains a statement at `indent` is outside of (not the chain an
    `elif`/`else` there goes on: `at_clause`); the branch and `forked_from` of the lines
    after them. A player saw one choice or block, then those lines: they start an exchange
    of their own, and so no sample mixes a block's lines with another's. But after a chain
    with no `else` they go on from the lines before it, as a player who ran none of its
    blocks saw them; and a chain that reached no say statement changes nothing."""
    closed = None
    while forks and indent <= forks[-1].indent:
        top = forks[-1]
        if at_clause and top.chain and indent == top.indent:
            break
        closed = forks.pop()
    if closed is None:
        return branch, forked_from
    if closed.chain and says_read == closed.says_read:
        return closed.branch, closed.forked_from
    if closed.chain and not closed.has_else:
        return branch + 1, closed.parent
    return branch + 1, None


def _name_after(
    goes: GoesTo,
    characters: dict[str, str],
    label_characters: Mapping[str, dict[str, str]],
    own_labels: Container[str],
) -> None:
    """Name the lines below a call of a label (or a jump to one) as its run always
    defines its characters (`ScriptNames.label_characters`), in the order of the lines,
    as a `$ e = Character(…)` there would. Not at a jump to a label of this script: the
    lines below it run before that label (or after it, named by then in order), and its
    own lines name those after them."""
    if not (goes.jumps and goes.label in own_labels):
        characters.update(label_characters.get(goes.label, {}))


def _put(
    translation: list[Utterance],
    out: list[Utterance],
    scene: str,
    branch: int,
    forked_from: int | None,
) -> Utterance:
    """Put the translated lines of one say statement (not empty) in the original's place,
    in its scene and branch; the last one."""
    for line in translation:
        line.scene, line.branch, line.forked_from = scene, branch, forked_from
        out.append(line)
    return translation[-1]


def _extend(
    line: Utterance,
    written: str,
    names: dict[str, str],
    unusable: str | None,
    strings: dict[str, str],
    brackets: tuple[str, str] | None = None,
) -> None:
    """Add an `extend` statement's string to the line it continues, as Ren'Py shows the
    two: one line, the strings joined as written (the author puts in any space); with
    `unusable` (a drop reason), `written` is Python that gives no text to show, so the
    line's text is unknown. A thought character's line (shown in `brackets`) goes on
    inside them, as Ren'Py puts them around the whole."""
    if brackets is not None and line.dropped is None and line.text.endswith(brackets[1]):
        line.text = line.text.removesuffix(brackets[1])
        _extend(line, written, names, unusable, strings)
        if line.dropped is None:
            line.text += brackets[1]
        return
    if line.dropped is not None:
        line.text += written  # still unusable; its variables are named from the text
        return
    if unusable:
        line.text = f"{line.text}{written}"
        line.dropped = unusable
        return
    shown = shown_text(unescape(written, in_line=True), names, strip=False, strings=strings)
    if shown is None:
        line.text = f"{line.text}{written}"
        line.dropped = UNRESOLVED_VARIABLE
    else:
        line.text = f"{line.text}{shown}".rstrip()

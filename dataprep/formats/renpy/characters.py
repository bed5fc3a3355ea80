"""The characters a Ren'Py script defines, as Ren'Py's stores hold them.

`define e = Character("Eileen")` and its kin (`default`, `define character.e`, a
DynamicCharacter, `e = Character(…)` as Python in an `init` block or in the story) are
read here, each as the whole statement Ren'Py reads; what they make of the names the
game shows, gathered from every file, is `names`'s, and what a label's run
defines `labels`'s.
"""

from __future__ import annotations

import re
from collections.abc import Container, Generator, Iterator
from typing import NamedTuple

from dataprep.formats.renpy.lines import logical_line
from dataprep.formats.renpy.statements import block_statements, one_line
from dataprep.formats.renpy.text import unescape

# `define x = Character(...)` or `define -1 x = …` (an init priority), as one line
# (`one_line`): its arguments often run over the lines below. `default x = Character(…)`
# sets it as the game starts, before any line is said, over any `define` (`Definitions`).
# Python allows blanks before the bracket: `Character ("Zaina")`.
DEFINE = re.compile(
    r"\s*(?:define|default)\s+(?:[-+]?\d+\s+)?([\w.]+)\s*=\s*(Dynamic)?Character\s*\((.*)"
)
# `define npc = annika` (or `default`): the variable holds the character another one
# holds, and speaks as it (group 2: that variable).
_ALIAS = re.compile(
    r"\s*(?:define|default)\s+(?:[-+]?\d+\s+)?([\w.]+)\s*=\s*([^\W\d][\w.]*)\s*(?:#.*)?$"
)
# `_defines`'s kind of such a statement, whose "arguments" are that variable.
_ALIAS_KIND = "alias"
# How many `define a = b` a name is followed through (`b` itself another's, and so on).
_ALIAS_HOPS = 8
# The namespace Ren'Py looks a say statement's speaker up in first: `define character.k`
# names the speaker of `k "…"` (not of Python's `k("…")`).
CHARACTER_NAMESPACE = "character."
# The default store, as Python names it (`store.k`): where a Python say call's speaker is.
DEFAULT_STORE = "store."
# `x = Character(...)` as Python (a `$` line, or a statement at a python block's top
# level), as older games define characters; only a plain variable, as one line.
_PYTHON_CHARACTER = re.compile(r"\s*(?:\$\s*)?([^\W\d]\w*)\s*=\s*(Dynamic)?Character\s*\((.*)")
# An `init:` block's opener (`init -1:`): what its lines set, they set before the game starts.
_INIT_BLOCK = re.compile(r"init(?:\s+[-+]?\d+)?\s*:\s*(?:#.*)?$")
# `init python:`, `init -1 python early:`, `python:` (group 1: `hide`, its variables a
# function's locals; group 2: the store namespace of `in name`).
PYTHON_OPENER = re.compile(
    r"\s*(?:init(?:\s+[-+]?\d+)?\s+)?python(?:\s+early)?(\s+hide)?(?:\s+in\s+([\w.]+))?"
    r"\s*:\s*(?:#.*)?$"
)
# `Character("f_name", dynamic=True)` is a DynamicCharacter: its name is an expression.
_DYNAMIC_KEYWORD = re.compile(r"[(,]\s*dynamic\s*=\s*True\b")
_VARIABLE = re.compile(r"[^\W\d][\w.]*")
# A character's name: the first argument, or the `name=` keyword wherever it is; a
# string, a translatable _("string"), or None (a narrator).
_NAME_VALUE = r"""(?:_\(\s*)?(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(None)\b)"""
_FIRST_ARG = re.compile(rf"\s*(?:name\s*=\s*)?{_NAME_VALUE}")
_NAME_KEYWORD = re.compile(rf"[(,]\s*name\s*=\s*{_NAME_VALUE}")
# `what_prefix="（", what_suffix="）"`: text the game shows before and after each line of
# the character's (group 1: which; 2 or 3: the string).
_WHAT_AFFIX = re.compile(
    r"""[(,]\s*what_(prefix|suffix)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
)
# The prefix and suffix that make a character the one a game shows thoughts by (the
# hero's inner voice: `Character("Natsuki", what_prefix="(", what_suffix=")")`).
_THOUGHT_PREFIXES = frozenset({"(", "（"})
_THOUGHT_SUFFIXES = frozenset({")", "）"})


class Definition(NamedTuple):
    """A character as one statement defines it: its display name (None for a
    DynamicCharacter, named at run time), the variable a DynamicCharacter's name is read
    from, whether a `default` statement sets it, the line of the story's Python that
    sets it when it runs (0: set before the game starts, as `define` or init Python), and
    the brackets a thought character's lines show in."""

    name: str | None
    source: str | None
    by_default: bool
    story_line: int = 0
    # The round brackets the game shows its lines in (`what_prefix`/`what_suffix`, a
    # thought character's); None for a character whose lines show as said.
    thought_brackets: tuple[str, str] | None = None


class Definitions:
    """The characters a game's scripts define, by variable as written (`k`, `character.k`,
    `cast.d`), as Ren'Py's stores hold them once the game has started: `define` runs at
    init, the last one holding; `default` sets its variable as the game starts, over any
    `define` of it wherever it is (renpy/ast.py `Default.set_default`; a second `default`
    of one variable is skipped, an error in developer mode). The story's Python
    (`$ e = Character(…)` in a label) runs when it is reached: it is the game's
    definition only where nothing set before the game starts defines that variable; in
    its own script it holds from its line on (`story`)."""

    def __init__(self) -> None:
        self.by_variable: dict[str, Definition] = {}
        # One script's story Python's definitions, in the order of their lines.
        self.story: list[tuple[str, Definition]] = []
        # `define npc = annika`: variable → (the variable it is given, whether `default`
        # gives it); a character only where that one is (`held`).
        self.aliases: dict[str, tuple[str, bool]] = {}

    def add(self, var: str, definition: Definition) -> None:
        held = self.by_variable.get(var)
        if held is None or (not held.by_default and (held.story_line or not definition.story_line)):
            self.by_variable[var] = definition

    def update(self, other: Definitions) -> None:
        for var, definition in other.by_variable.items():
            self.add(var, definition)
        self.aliases.update(other.aliases)

    def held(self) -> dict[str, Definition]:
        """Variable → the character it holds: those defined, and those given another's
        variable (`define npc = annika`), the other's character, over a `define` of it
        only where `default` gives it (as `add`)."""
        held = dict(self.by_variable)
        for var, (target, by_default) in self.aliases.items():
            definition = self._followed(target)
            own = held.get(var)
            if definition is not None and (own is None or (by_default and not own.by_default)):
                held[var] = definition._replace(by_default=by_default)
        return held

    def _followed(self, var: str) -> Definition | None:
        """The character `var` holds, through the variables it is given in turn."""
        for _ in range(_ALIAS_HOPS):
            if var in self.by_variable:
                return self.by_variable[var]
            if var not in self.aliases:
                return None
            var = self.aliases[var][0]
        return None

    def speakers(self) -> tuple[dict[str, str], dict[str, str]]:
        """(speaker → display name, speaker → the variable holding its name). A say
        statement `k "…"` looks its speaker up in the `character` store first (Ren'Py
        7.4+), so `character.k` is the speaker `k` too, over the default store's `k`;
        Python (`k("…")`, `renpy.say(k, …)`) sees the default store's, kept then as the
        speaker `store.k` (`python_speaker`)."""
        names: dict[str, str] = {}
        dynamic: dict[str, str] = {}
        for speaker, definition in self._by_speaker():
            # A DynamicCharacter is known by its variable until its name is known
            # (ScriptNames.resolve).
            shown = definition.name
            names[speaker] = speaker.removeprefix(DEFAULT_STORE) if shown is None else shown
            if definition.source is not None:
                dynamic[speaker] = definition.source
        return names, dynamic

    def thought_brackets(self) -> dict[str, tuple[str, str]]:
        """Speaker (as `speakers`) → the brackets a thought character's lines show in."""
        return {
            speaker: definition.thought_brackets
            for speaker, definition in self._by_speaker()
            if definition.thought_brackets is not None
        }

    def _by_speaker(self) -> Iterator[tuple[str, Definition]]:
        """(speaker, its character) for each speaker a say statement or Python names
        (`speakers`)."""
        held = self.held() if self.aliases else self.by_variable
        for var, definition in held.items():
            speakers = [var]
            if var.startswith(CHARACTER_NAMESPACE):
                speakers.append(var[len(CHARACTER_NAMESPACE) :])
            elif CHARACTER_NAMESPACE + var in held:
                speakers = [DEFAULT_STORE + var]
            for speaker in speakers:
                yield speaker, definition


def definitions_of(lines: list[str]) -> Definitions:
    """The characters a script's `lines` define (`_defines`)."""
    found = Definitions()
    for var, kind, args, by_default, story_line in _defines(lines):
        if kind == _ALIAS_KIND:
            found.aliases[var] = (args, by_default)
            continue
        m = _FIRST_ARG.match(args) or _NAME_KEYWORD.search(args)
        if m is None:
            continue
        name = unescape(m.group(1) or m.group(2) or "")
        # DynamicCharacter("f_name"): the name is what f_name holds when it speaks.
        is_dynamic = bool(kind or _DYNAMIC_KEYWORD.search(args))
        source = name.strip() if is_dynamic and _VARIABLE.fullmatch(name.strip()) else None
        definition = Definition(
            None if is_dynamic else name, source, by_default, story_line, _thought_brackets(args)
        )
        found.add(var, definition)
        if story_line:
            found.story.append((var, definition))
    return found


def _thought_brackets(args: str) -> tuple[str, str] | None:
    """The round brackets a character's arguments show each of its lines in
    (`what_prefix="（", what_suffix="）"`), or None: no prefix and suffix, or others (a
    quote mark around each line is speech)."""
    if "what_" not in args:
        return None
    affixes = {
        m.group(1): unescape(m.group(2) or m.group(3) or "") for m in _WHAT_AFFIX.finditer(args)
    }
    prefix, suffix = affixes.get("prefix", ""), affixes.get("suffix", "")
    if prefix.strip() in _THOUGHT_PREFIXES and suffix.strip() in _THOUGHT_SUFFIXES:
        return prefix, suffix
    return None


def python_speaker(who: str, characters: Container[str]) -> str:
    """The speaker a Python say call's `who` names: Python looks a variable up in the
    default store (`store.k` written so too), never in the `character` store first as a
    say statement does."""
    plain = who.removeprefix(DEFAULT_STORE)
    in_store = DEFAULT_STORE + plain
    return in_store if in_store in characters else plain


def _defines(lines: list[str]) -> Iterator[tuple[str, str, str, bool, int]]:
    """(variable, "Dynamic" or "", the arguments after `Character(`, whether `default`
    sets it, the line of the story's Python that sets it or 0) of each character
    defined: `define x = Character(...)` or
    `define character.x = …` (or `default`), and as
    older games do, `x = Character(...)` on a `$` line anywhere (in an `init:` block or
    the story) or at the top level of a python block (`init python:` or the story's
    `python:`; not `python hide:`, whose variables are a function's). Each is read as the
    whole statement Ren'Py reads. A `define npc = annika` (or `default`) is yielded
    as (variable, _ALIAS_KIND, the variable it is given, …). Python outside an `init` block or statement is the
    story's, run when it is reached (`Definitions`)."""
    number = 0
    init_indent = -1  # the indent of the `init:` block the lines are in; -1: none
    while number < len(lines):
        line = lines[number]
        number += 1
        stripped = line.lstrip()
        if not stripped or stripped[0] == "#":
            continue
        indent = len(line) - len(stripped)
        if indent <= init_indent:
            init_indent = -1
        if stripped.startswith(("define", "default")):
            by_default = stripped.startswith("default")
            alias = None if "Character" in line else _ALIAS.match(line)
            if alias is not None:
                yield alias.group(1), _ALIAS_KIND, alias.group(2), by_default, 0
            else:
                yield from _assigned_character(lines, number, DEFINE, by_default)
        elif stripped.startswith("$") and "Character" in line:
            story_line = number if init_indent < 0 else 0
            yield from _assigned_character(lines, number, _PYTHON_CHARACTER, story_line=story_line)
        elif stripped.startswith("init") and _INIT_BLOCK.match(stripped):
            init_indent = indent
        elif (
            stripped.startswith(("init", "python"))
            and (m := PYTHON_OPENER.match(line))
            and any("Character" in body for body in _indented_below(lines, number, indent))
        ):
            in_story = init_indent < 0 and not stripped.startswith("init")
            number = yield from _python_block_defines(lines, number, indent, m, in_story)


def _indented_below(lines: list[str], number: int, indent: int) -> Iterator[str]:
    """The lines below line `number` indented deeper than `indent`, blank and comment
    lines among them: a block's, at a glance (a string's line at column 0 ends it)."""
    for at in range(number, len(lines)):
        line = lines[at]
        stripped = line.lstrip()
        if stripped and stripped[0] != "#" and len(line) - len(stripped) <= indent:
            return
        yield line


def _python_block_defines(
    lines: list[str], number: int, indent: int, opener: re.Match[str], in_story: bool
) -> Generator[tuple[str, str, str, bool, int], None, int]:
    """`_defines` of the python block that line `number` (indented by `indent`, read
    by `PYTHON_OPENER` as `opener`, the story's if `in_story`) opens: the statements at
    its top level (the first one's indent), not a function's, class's or branch's.
    Returns its last line."""
    namespace = "" if opener.group(2) is None else f"{opener.group(2)}."
    top = -1
    last = number
    for at, end, statement_indent in block_statements(lines, number, len(lines)):
        if statement_indent <= indent:
            break
        last = end
        top = statement_indent if top < 0 else top
        if statement_indent != top or opener.group(1) is not None:
            continue  # not the store's: a nested body's, or a `python hide:` block's
        if any("Character" in line for line in lines[at - 1 : end]):
            story_line = at if in_story else 0
            for var, kind, args, _, _ in _assigned_character(lines, at, _PYTHON_CHARACTER):
                yield namespace + var, kind, args, False, story_line
    return last


def _assigned_character(
    lines: list[str],
    number: int,
    pattern: re.Pattern[str],
    by_default: bool = False,
    story_line: int = 0,
) -> Iterator[tuple[str, str, str, bool, int]]:
    """(variable, "Dynamic" or "", arguments, `by_default`) of the character the statement
    on line `number` defines as `pattern` reads it (`logical_line`: comments dropped, over
    every line its brackets are open); one never closed, as its line alone."""
    line = lines[number - 1]
    whole = logical_line(lines, number)
    m = pattern.match(line if whole is None else one_line(whole.text))
    if m is not None:
        yield m.group(1), m.group(2) or "", m.group(3), by_default, story_line


def collect_characters(text: str) -> dict[str, str]:
    """Variable → display name for every character the text defines (`_defines`); a
    narrator (`Character(None, kind=nvl)`) maps to "", a DynamicCharacter to its own
    variable (the name it shows is only known at run time)."""
    return definitions_of(text.splitlines()).speakers()[0]

"""The names a Ren'Py game's scripts give, gathered from all of them before any is parsed.

A character defined in one file speaks in another; a `[player]` in a name shows a value
set in a third; a `default` anywhere wins over a `define`; a language's strings block
translates a name. `ScriptNames` gathers what every file says (characters, the string
values of variables, the player's name variables, string translations) and resolves the
name each speaker shows, for the whole game, for each label's run (`labels`) and
for the story's own Python from its line on (`story_names`, which the parser applies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping

from dataprep.formats.renpy.characters import (
    CHARACTER_NAMESPACE,
    DEFAULT_STORE,
    Definition,
    Definitions,
    definitions_of,
)
from dataprep.formats.renpy.labels import LabelStep, label_characters, label_steps, twice
from dataprep.formats.renpy.statements import STR
from dataprep.formats.renpy.text import (
    INTERPOLATION,
    name_shown,
    render,
    shown_name,
    unescape,
    variables_shown,
)
from dataprep.formats.renpy.translations import ORIGINAL, by_language, translated_strings

# `$ player = renpy.input("Name?")`, `default name = renpy.input(...).strip()`, or the same
# inside a python block: the variable holds the player's name.
_INPUT = re.compile(
    r"^[ \t]*(?:\$[ \t]*|default[ \t]+|define[ \t]+)?([^\W\d][\w.]*)[ \t]*=[ \t]*renpy\.input\(",
    re.M,
)
# A screen's `input value VariableInputValue("player")` (DDLC and its mods): what the player
# types goes to that variable (group 1), which holds their name when a character's name
# shows it (a save's name or a chat box's text is typed so too).
_INPUT_VALUE = re.compile(rf"\bVariableInputValue\(\s*(?:variable\s*=\s*)?({STR})")
# `call screen input_name(…)`, then as its next statement `$ player_name = _return` (or
# `$ a, b = persistent.a, persistent.b = _return`): the variables (group 2) hold what the
# screen (group 1) returns, the name typed when that screen holds an `input`.
_SCREEN_RETURN = re.compile(
    r"^[ \t]*call[ \t]+screen[ \t]+([\w.]+)[^\n]*\n(?:[ \t]*(?:#[^\n]*)?\n)*"
    r"[ \t]*\$[ \t]*((?:[\w.]+[ \t]*(?:,[ \t]*[\w.]+[ \t]*)*=[ \t]*)+)_return[ \t]*(?:#.*)?$",
    re.M,
)
_SCREEN = re.compile(r"^([ \t]*)screen[ \t]+([\w.]+)", re.M)
_INPUT_STATEMENT = re.compile(r"[ \t]+input\b")
_DOTTED_NAME = re.compile(r"[^\W\d][\w.]*")
# The name such a call offers (`renpy.input("His name?", "Jack")`, `default="Jack"`): what
# the variable holds unless the player types another (group 1 or 2).
_INPUT_DEFAULT = re.compile(
    _INPUT.pattern
    + rf"(?:[ \t]*(?:_\([ \t]*{STR}[ \t]*\)|{STR})[ \t]*,[ \t]*({STR})"
    + rf"|[^\n]*?\bdefault[ \t]*=[ \t]*({STR}))",
    re.M,
)
# `define mc = "Max"`, `default title = _("Captain")`, `$ mc = "Max"`: a variable given a
# value (group 2, the expression and any comment after it, without the blanks after it:
# the value ends at its last non-blank, not where blanks first reach the line end, which
# tried each blank of a long run in turn).
_ASSIGNMENT = re.compile(
    r"^[ \t]*(?:\$[ \t]*|define[ \t]+(?:[-+]?\d+[ \t]+)?|default[ \t]+)([^\W\d][\w.]*)"
    r"[ \t]*[-+*/%]?=(?!=)[ \t]*((?:.*[^ \t\n])?)[ \t]*$",
    re.M,
)
# `python:`, `init python:`, `init -1 python early:` and its body (group 2): more lines than
# indented under it, blank lines included.
_PYTHON_BLOCK = re.compile(
    r"^([ \t]*)(?:init(?:[ \t]+[-+]?\d+)?[ \t]+)?python\b[^:\n\"']*:[ \t]*(?:#.*)?\n"
    r"((?:\1[ \t]+\S.*\n?|[ \t]*\n)*)",
    re.M,
)
_FIRST_INDENT = re.compile(r"(?:[ \t]*\n)*([ \t]*)")
# An assignment in such a body (group 1: its indent); only those at the body's own
# indent are the store's, not a function's locals or a branch's.
_PYTHON_ASSIGNMENT = re.compile(
    r"^([ \t]+)([^\W\d][\w.]*)[ \t]*[-+*/%]?=(?!=)[ \t]*((?:.*[^ \t\n])?)[ \t]*$", re.M
)
_LITERAL = re.compile(rf"(?:_\([ \t]*({STR})[ \t]*\)|({STR}))[ \t]*(?:#.*)?")
# Values that say "not set yet" (`default name = ""`), not what the variable holds.
_UNSET = frozenset({"", "None"})
# Stands for a value that is not one string literal (`$ mood = moods[i]`).
_NOT_A_STRING = "\x00"
NOT_A_STRING_VALUE = "something other than a string"


def resolve_names(
    characters: dict[str, str], values: dict[str, str], strings: dict[str, str] | None = None
) -> dict[str, str]:
    """Character names that interpolate a variable (`Character("[player]")`) with its
    value (`[title!t]` its translation in `strings`, if any); a name with a variable of no
    known value stays as written."""
    return {var: _filled_in(name, values, strings) for var, name in characters.items()}


def _filled_in(name: str, values: dict[str, str], strings: dict[str, str] | None) -> str:
    """A character's name with its `[var]` interpolations shown as `values` give them; as
    written when one has no known value."""
    if "[" not in name:
        return name
    return name_shown(render(f'"{name}"', values, strings) or name)


def assigned_values(text: str) -> dict[str, set[str]]:
    """Variable → every value `define`, `default`, a one-line `$ x = …` or a statement of
    a `python:` block gives it: a string literal's text, or _NOT_A_STRING for anything
    else; "" and None (not set yet) are left out."""
    found: dict[str, set[str]] = {}
    for var, expression in _ASSIGNMENT.findall(text) + _python_assignments(text):
        m = _LITERAL.fullmatch(expression)
        if m is not None:
            raw = m.group(1) or m.group(2)
            value = unescape(raw[1:-1]).strip()
        else:
            value = expression if expression in _UNSET else _NOT_A_STRING
        if value not in _UNSET:
            found.setdefault(var, set()).add(value)
    return found


def _python_assignments(text: str) -> list[tuple[str, str]]:
    """(variable, expression) of the assignments at the top level of each python block."""
    if "python" not in text:
        return []
    found = []
    for block in _PYTHON_BLOCK.finditer(text):
        statements = _PYTHON_ASSIGNMENT.findall(block.group(2))
        indent = _FIRST_INDENT.match(block.group(2)).group(1)  # type: ignore[union-attr]
        found += [(var, value) for at, var, value in statements if at == indent]
    return found


def string_variables(text: str) -> dict[str, str]:
    """Variable → value for every variable the text gives one string literal, and only
    that (a variable given two strings, or something else, has no known value)."""
    names = ScriptNames()
    names.add_values(text)
    return names.known()


class ScriptNames:
    """What the .rpy files given say about names, gathered from all of them before any
    is parsed: characters, the strings variables hold, the player's name variables, the
    string translations of each language."""

    def __init__(self) -> None:
        # Every file's characters, as the game's stores hold them (see `speakers`).
        self.definitions = Definitions()
        # What variables are given outside `translate <lang>` blocks (in every language),
        # and in each language's blocks (in that language only).
        self.values: dict[str, set[str]] = {}
        self.language_values: dict[str, dict[str, set[str]]] = {}
        # The variables given `renpy.input(...)`: all the player's name until
        # `choose_player` picks the lead's among several (the rest go to `typed`).
        self.player: set[str] = set()
        self.typed: set[str] = set()
        # Variable → the names its renpy.input calls offer.
        self.offered: dict[str, set[str]] = {}
        # Each file's text and the characters its story Python defines, for
        # `label_steps`: read only when some file's story defines one (most games define
        # theirs with `define`), as that pass costs about as much as the rest of `add`.
        self._stories: list[tuple[str, list[tuple[str, Definition]]]] = []
        # Language → the string translations of its `translate <lang> strings` blocks.
        self.strings: dict[str, dict[str, str]] = {}
        # Names typed through a screen (`_add_screen_inputs`): the variables screens'
        # VariableInputValue set, those given what a called screen returns (by screen),
        # and the screens that hold an `input`.
        self._input_values: set[str] = set()
        self._screen_returns: dict[str, set[str]] = {}
        self._input_screens: set[str] = set()

    def add(self, text: str) -> bool:
        """Gather one file's names; True when it defines characters."""
        for language, found in translated_strings(text).items():
            self.strings.setdefault(language, {}).update(found)
        lines = text.splitlines()
        defined = definitions_of(lines)
        self.definitions.update(defined)
        self._stories.append((text, defined.story))
        self.add_values(text)
        self.player |= input_variables(text)
        self._add_screen_inputs(text)
        for var, offered in input_defaults(text).items():
            self.offered.setdefault(var, set()).update(offered)
        return bool(defined.by_variable)

    def _add_screen_inputs(self, text: str) -> None:
        """The player's name variables one file shows typed through a screen, as
        renpy.input's: a screen's `VariableInputValue("player")` whose variable a
        character's name shows (`DynamicCharacter("player")`), and the variables given
        `_return` after a `call screen` of a screen with an `input` (in any file)."""
        if "VariableInputValue" in text:
            self._input_values |= {unescape(s[1:-1]) for s in _INPUT_VALUE.findall(text)}
        if "_return" in text:
            for screen, targets in _SCREEN_RETURN.findall(text):
                found = self._screen_returns.setdefault(screen, set())
                found.update(_kept_copies(_DOTTED_NAME.findall(targets)))
        if "input" in text:
            self._input_screens |= input_screens(text)
        for screen in self._input_screens & self._screen_returns.keys():
            self.player |= self._screen_returns[screen]
        if self._input_values - self.player:
            names, dynamic = self.definitions.speakers()
            shown = set(dynamic.values())
            shown.update(var for name in names.values() for var in variables_shown(name))
            self.player |= self._input_values & shown

    def choose_player(
        self, is_lead: Callable[[str], bool], language: str | None = None
    ) -> tuple[str, ...]:
        """Among several typed names (a husband's, a wife's, a baby's), keep as the
        player's those whose variable or value (`default`, `define`, the name its
        renpy.input offers) `is_lead`; the others become names like any variable's
        (`typed`), shown with that value. When none is the lead's, all stay the player's
        and they are returned, sorted, for the run to say so."""
        if len(self.player) < 2:
            return ()
        values = self._values(language)
        lead = {
            var
            for var in self.player
            if is_lead(var) or any(map(is_lead, self._typed_values(var, values)))
        }
        if not lead:
            return tuple(sorted(self.player))
        self.typed = self.player - lead
        self.player = lead
        return ()

    def _typed_values(self, var: str, values: dict[str, set[str]]) -> set[str]:
        """The strings a typed name holds unless the player types another: those given
        it (`values`) and those its renpy.input calls offer."""
        return (values.get(var, set()) - {_NOT_A_STRING}) | self.offered.get(var, set())

    def add_values(self, text: str) -> None:
        outside, translated = by_language(text)
        for var, values in assigned_values(outside).items():
            self.values.setdefault(var, set()).update(values)
        for language, block in translated.items():
            found = self.language_values.setdefault(language, {})
            for var, values in assigned_values(block).items():
                found.setdefault(var, set()).update(values)

    def _values(self, language: str | None) -> dict[str, set[str]]:
        """What variables are given in play in `language` (ORIGINAL: the untranslated
        game; None: every language at once, as ParseOptions.renpy_language None reads)."""
        if language is None:
            chosen = list(self.language_values.values())
        elif language == ORIGINAL:
            chosen = []
        else:
            chosen = [self.language_values.get(language, {})]
        values = {var: set(given) for var, given in self.values.items()}
        for found in chosen:
            for var, given in found.items():
                values.setdefault(var, set()).update(given)
        # A typed name not the player's holds what it is given or offered: its
        # renpy.input is no other value.
        for var in self.typed:
            values[var] = self._typed_values(var, values)
        return values

    def known(self, language: str | None = None) -> dict[str, str]:
        """Variables given one and the same string literal everywhere (in play in
        `language`, see `_values`): their value. One given different strings (in one
        file or across files) is not guessed."""
        return {
            var: next(iter(values))
            for var, values in self._values(language).items()
            if len(values) == 1 and _NOT_A_STRING not in values
        }

    def unsettled(self, language: str | None = None) -> dict[str, tuple[str, ...]]:
        """Variables given more than one value, or something other than a string (in
        play in `language`): the values, sorted (the latter as NOT_A_STRING_VALUE), to
        say why none was used."""
        return {
            var: tuple(sorted(NOT_A_STRING_VALUE if v == _NOT_A_STRING else v for v in values))
            for var, values in self._values(language).items()
            if var not in self.player and (len(values) > 1 or _NOT_A_STRING in values)
        }

    def resolve(
        self,
        lead: str,
        player_value: str,
        strings: dict[str, str] | None = None,
        language: str | None = None,
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(character variable → the name a speaker is known by, variable → the value
        its `[var]` shows). The player's name variables are the lead (`player_value` in
        lines: {{user}} or the lead's name); a dynamic character whose name variable has
        no known value is known by its own variable (`f`), so an alias can name it.
        `strings`: the chosen language's string translations, which every other name is
        shown in (see shown_name)."""
        strings = strings or {}
        known = self.known(language)
        as_names = {**known, **dict.fromkeys(self.player, lead)}
        names, dynamic = self.definitions.speakers()
        # Ren'Py translates a name as written, then fills in its `[var]`.
        written = {
            var: name if var in dynamic else shown_name(name, strings)
            for var, name in names.items()
        }
        characters = resolve_names(written, as_names, strings)
        for var, source in dynamic.items():
            value = as_names.get(source)
            if value and source not in self.player:
                value = shown_name(value, strings)
            characters[var] = value or written[var]
        return characters, {**known, **dict.fromkeys(self.player, player_value)}

    def label_steps(self) -> dict[str, list[LabelStep]]:
        """Label → what its run does to the characters (`labels.label_steps`),
        every file's; empty when no file's story defines a character."""
        found: dict[str, list[LabelStep]] = {}
        if not any(story for _, story in self._stories):
            return found
        for text, story in self._stories:
            for label, steps in label_steps(text.splitlines(), story):
                held = found.get(label)
                found[label] = steps if held is None else twice(held + steps)
        return found

    def label_characters(
        self, lead: str, strings: dict[str, str] | None = None, language: str | None = None
    ) -> dict[str, dict[str, str]]:
        """Label → (speaker → the name shown) of each character its run always defines
        in the story's Python, through the labels it calls (`labels.label_steps`):
        named as one its own script defines there (`story_names`), the player's name
        variables naming the lead. What a label may or may not define is left out: a call
        of it leaves that speaker's name as it was."""
        strings = strings or {}
        known = self.known(language)
        player = dict.fromkeys(self.player, lead)
        steps = self.label_steps()
        done: dict[str, dict[str, Definition | None]] = {}
        found = {}
        for label in steps:
            named = {
                _story_speaker(var, self.definitions.by_variable): _story_name(
                    var, definition, strings, known, player
                )
                for var, definition in label_characters(steps, label, done).items()
                if definition is not None
            }
            if named:
                found[label] = named
        return found

    def named_by_alias(
        self,
        characters: dict[str, str],
        is_alias: Callable[[str], bool],
        language: str | None = None,
    ) -> dict[str, str]:
        """`characters` (from `resolve`) with each name that shows one variable given
        several values (`Character("[m_name]")`: "???", later "Minamo") named by the one
        of those values that makes an alias: it is one speaker whatever its name shows at
        the time. One that makes no alias, or several, stays as written. A nameless
        character (`define m = Character(None, image="mage")`: no name box, its side
        image shows who speaks) is narration unless its variable is an alias: it is
        then that speaker (HrmTrain's player character speaks so)."""
        unsettled = self.unsettled(language)
        names, dynamic = self.definitions.speakers()
        named = dict(characters)
        for var, name in characters.items():
            variable = var.removeprefix(CHARACTER_NAMESPACE).removeprefix(DEFAULT_STORE)
            if name == "" and is_alias(variable):
                named[var] = variable
        for var in characters:
            holder = dynamic.get(var)
            written = f"[{holder}]" if holder else names.get(var, "")
            shown = set(variables_shown(written))
            source = shown.pop() if len(shown) == 1 else ""
            if source not in unsettled:
                continue
            matching = {
                name
                for value in unsettled[source]
                if value != NOT_A_STRING_VALUE and is_alias(name := _filled(written, source, value))
            }
            if len(matching) == 1:
                named[var] = matching.pop()
        return named


def _filled(written: str, variable: str, value: str) -> str:
    """A name as written with each `[variable]` in it shown as `value`."""
    return INTERPOLATION.sub(lambda m: value if m.group(1) == variable else m.group(0), written)


def input_variables(text: str) -> set[str]:
    """The variables assigned from `renpy.input(...)`: the player's name."""
    return set(_INPUT.findall(text))


def _kept_copies(targets: list[str]) -> list[str]:
    """Of the variables one name typed is given (`player_name = persistent.player_name`),
    those the story reads: a copy kept for the next game (`persistent.`) is one name
    with them, not another name typed."""
    played = [var for var in targets if not var.startswith("persistent.")]
    return played or targets


def input_screens(text: str) -> set[str]:
    """The screens the text defines whose body holds an `input`."""
    found = set()
    lines = text.splitlines()
    starts = {text.count("\n", 0, m.start()): m for m in _SCREEN.finditer(text)}
    for number, m in starts.items():
        indent = len(m.group(1).expandtabs())
        for line in lines[number + 1 :]:
            stripped = line.lstrip()
            if stripped and stripped[0] != "#" and len(line) - len(stripped) <= indent:
                break
            if _INPUT_STATEMENT.match(line):
                found.add(m.group(2))
                break
    return found


def input_defaults(text: str) -> dict[str, set[str]]:
    """Variable → the names its `renpy.input(...)` calls offer (their default)."""
    found: dict[str, set[str]] = {}
    for var, positional, keyword in _INPUT_DEFAULT.findall(text):
        offered = unescape((positional or keyword)[1:-1]).strip()
        if offered not in _UNSET:
            found.setdefault(var, set()).add(offered)
    return found


def story_names(
    definitions: Definitions,
    strings: dict[str, str],
    variables: Mapping[str, str],
    player: Mapping[str, str],
) -> list[tuple[int, str, str]]:
    """(line, speaker, name shown) of each character the story's Python of one script
    defines, as the game shows its name from that line on, as `ScriptNames.resolve`
    names one defined before the game starts: a DynamicCharacter's is what its variable
    holds (`variables`), or its own variable where that holds no known value; a `[var]`
    in a name shows its value. The player's name variable (`player`) names the lead
    there, not what a line shows of it ({{user}}). A say statement's `e` is
    `character.e` where that is defined: this `e` is then Python's (`store.e`)."""
    return [
        (
            definition.story_line,
            _story_speaker(var, definitions.by_variable),
            _story_name(var, definition, strings, variables, player),
        )
        for var, definition in definitions.story
    ]


def _story_speaker(var: str, defined: Container[str]) -> str:
    """The speaker the story's Python's `var` is: `store.var` where `character.var` is
    `defined` (a say statement's `var` is that one)."""
    return DEFAULT_STORE + var if CHARACTER_NAMESPACE + var in defined else var


def _story_name(
    var: str,
    definition: Definition,
    strings: dict[str, str],
    variables: Mapping[str, str],
    player: Mapping[str, str],
) -> str:
    """The name the story's `var = definition` shows (see `story_names`)."""
    source = definition.source
    if definition.name is not None:
        return _filled_in(shown_name(definition.name, strings), {**variables, **player}, strings)
    if source is not None and source in player:
        return player[source]
    if source is not None and source in variables:
        return shown_name(variables[source], strings)
    return var

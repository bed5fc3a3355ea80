"""What a Ren'Py label's run does to the characters, through the labels it goes to.

A game may define a character in the story's Python (`$ e = Character("Eileen")` in a
label), then call or jump to that label from another script: the lines below the call
are said by the character as that label's run left it. Reading a label's run (its
statements in order, where it calls or jumps, where it ends, which definitions every
run reaches) is a pass of its own over each script, made only when some script's story
defines a character; the parser takes from it where a `call` or `jump` goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from dataprep.formats.renpy.characters import PYTHON_OPENER, Definition
from dataprep.formats.renpy.lines import LogicalLine, logical_line
from dataprep.formats.renpy.statements import LABEL, one_line

# `call name`, `call .local(args) from _call_x`, `jump name`, `call expression "name"`: the
# label a statement goes to, as written (group `label`) or as a string literal that is the
# whole expression (group `named`); not `call screen`, nor a label an expression computes.
_GOES_TO = re.compile(
    r"""(?:call|jump)[ \t]+(?:expression[ \t]+(?P<quote>["'])(?P<named>[\w.]+)(?P=quote)"""
    r"""(?:[ \t]+pass\b.*?)?|(?!(?:screen|expression)\b)(?P<label>[\w.]+)[ \t]*(?:\(.*\))?)"""
    r"(?:[ \t]+from[ \t]+\w+)?[ \t]*(?:#.*)?$"
)
# Python's forms of them, a `$` line's whole statement: `renpy.call("name", …)`,
# `renpy.jump("name")`, `renpy.call_in_new_context("name", …)` (a new context shares the
# store, so what the label defines stays when it returns: renpy/game.py), with the label a
# string literal (maybe `label="name"`); not one an expression computes.
_PYTHON_GOES_TO = re.compile(
    r"""renpy\.(?P<how>call|jump|call_in_new_context)[ \t]*\([ \t]*(?:label[ \t]*=[ \t]*)?"""
    r"""(?P<quote>["'])(?P<named>[\w.]+)(?P=quote)[ \t]*(?:,.*)?\)[ \t]*(?:#.*)?$"""
)
# What ends a label's run where it is: control goes on elsewhere, never to the line below.
_LEAVES = re.compile(r"(?:return|jump)\b|\$[ \t]*renpy\.(?:jump|return_statement)[ \t]*\(")
# A statement at a label's level that is no story code: what it holds runs before the game
# starts (`init python:`, whose `def` may `return`) or never in the story's run.
_NOT_STORY = re.compile(
    r"(?:init|screen|transform|style|image|layeredimage|translate|testcase|define|default)\b"
    r"|python[ \t]+early\b"
)


class _Defines(NamedTuple):
    """A step of a label's run: its story Python defines the character `var`; definition
    None where the run may not reach it (`label_steps`)."""

    var: str
    definition: Definition | None


class _Calls(NamedTuple):
    """A step of a label's run: it calls `label` (or falls into it), `sure`: on every run."""

    label: str
    sure: bool


LabelStep = _Defines | _Calls


def _label_name(written: str, global_label: str) -> str:
    """A label as Ren'Py names it: a local one (`.after`) under the global label above it."""
    return global_label + written if written.startswith(".") else written


def label_statement(written: str, global_label: str) -> tuple[str, str]:
    """A `label` statement's label (`_label_name`), and the global label the local ones
    below it are under: this one, unless it is local itself."""
    name = _label_name(written, global_label)
    return name, global_label if "." in written else name


class GoesTo(NamedTuple):
    """Where a `call`/`jump` statement (or Python's form of one) goes: the label, and
    whether it jumps there (never to come back)."""

    label: str
    jumps: bool


def _goes_to(statement: str, global_label: str) -> GoesTo | None:
    """Where a `call`/`jump` statement (`_GOES_TO`) or a `$` line's `renpy.call(…)`
    (`_PYTHON_GOES_TO`), as one line, goes, under `global_label`; None for any other
    statement, or a label an expression computes."""
    if statement.startswith("$"):
        m = _PYTHON_GOES_TO.match(statement[1:].lstrip())
        jumps = m is not None and m.group("how") == "jump"
    else:
        m = _GOES_TO.match(statement)
        jumps = statement.startswith("jump")
    if m is None:
        return None
    return GoesTo(_label_name(m.group("named") or m.group("label"), global_label), jumps)


def statement_goes_to(stripped: str, whole: LogicalLine | None, global_label: str) -> GoesTo | None:
    """`_goes_to` of the statement whose first line is `stripped` (its whole statement
    `whole`: a call's arguments may go on over lines)."""
    if not stripped.startswith(("call", "jump")) and not (
        stripped.startswith("$") and "renpy." in stripped
    ):
        return None
    return _goes_to(stripped if whole is None else one_line(whole.text).strip(), global_label)


def labels_of(lines: list[str]) -> set[str]:
    """The labels a script defines, as Ren'Py names them (a local one under its global)."""
    found = set()
    global_label = ""
    for line in lines:
        if line.lstrip().startswith("label") and (m := LABEL.match(line)):
            name, global_label = label_statement(m.group(1), global_label)
            found.add(name)
    return found


def label_steps(
    lines: list[str], story: list[tuple[str, Definition]]
) -> list[tuple[str, list[LabelStep]]]:
    """(label, what its run does to the characters, in order) of each label statement of
    the script (a label defined twice, twice): the story Python of its
    body defines one (`story`: the script's, `Definitions.story`), or it calls a label
    (`call`, `$ renpy.call("name")`) or jumps to one, whose run goes on there.
    A run goes on until a `return` or `jump` at its body's top level; past its body, it
    runs the story code at the label's level below (Ren'Py runs a script's statements
    in order; not an `init` block's, a screen's…, `_NOT_STORY`), and falls into the next
    label. Only a definition on every run is one (a `$` line or a
    top-level statement of a `python:` block, at the body's top level, before any
    `return` or `jump` that may have ended it): behind an `if` or a menu choice, it
    leaves its character's name unknown (None). Conservative: a call names a character
    only as it is for certain once the label has run, and leaves one it may or may not
    have renamed as it was, rather than guess one of its names."""
    defined_at = {definition.story_line: (var, definition) for var, definition in story}
    found: list[tuple[str, list[LabelStep]]] = []
    running: list[LabelStep] | None = None  # the steps of the label whose run we are in
    in_body = False
    not_story = False  # in a block at the label's level that is no story code
    label_indent = top = -1
    top_line = 0  # the line of the statement at the body's top level that we are in
    sure = True  # whether every run of the label reaches this line
    global_label = ""
    number = 0
    while number < len(lines):
        number += 1
        raw = lines[number - 1]
        stripped = raw.lstrip()
        if not stripped or stripped[0] == "#":
            continue
        indent = len(raw) - len(stripped)
        whole = logical_line(lines, number, python=stripped[0] == "$")
        first, number = number, number if whole is None else whole.last
        if stripped.startswith("label") and (m := LABEL.match(raw)):
            name, global_label = label_statement(m.group(1), global_label)
            if running is not None:
                running.append(_Calls(name, sure))  # it falls in
            running = []
            found.append((name, running))
            in_body, label_indent, top, sure, not_story = True, indent, -1, True, False
            continue
        if not in_body or indent < label_indent or running is None:
            in_body = False
            continue
        if indent == label_indent:
            # Past the label's block, at its level: the run goes on in story code there.
            not_story = _NOT_STORY.match(stripped) is not None
            top = indent
        if not_story:
            continue
        top = indent if top < 0 else top
        top_line = first if indent == top else top_line
        goes = statement_goes_to(stripped, whole, global_label)
        if goes is not None:
            # A jump goes on in the label it names as a call does, never to come back.
            running.append(_Calls(goes.label, sure and indent == top))
        if _LEAVES.match(stripped):
            if indent == top:
                running = None  # the run ends here
            sure = False
        elif goes is None and first in defined_at:
            var, definition = defined_at[first]
            always = sure and (
                first == top_line or PYTHON_OPENER.match(lines[top_line - 1]) is not None
            )
            running.append(_Defines(var, definition if always else None))
    return found


def twice(steps: list[LabelStep]) -> list[LabelStep]:
    """The steps of a label defined twice: which of them runs is not known (Ren'Py
    refuses it, or runs the last one loaded), so none of them is sure."""
    return [
        _Calls(step.label, False) if isinstance(step, _Calls) else _Defines(step.var, None)
        for step in steps
    ]


def label_characters(
    steps: Mapping[str, list[LabelStep]],
    label: str,
    done: dict[str, dict[str, Definition | None]],
) -> dict[str, Definition | None]:
    """Variable → the character `label`'s run leaves it (None: not known for certain),
    through the labels it calls. `done`: the labels already read. Read depth first by a
    stack of its own, not by recursion: a game's labels may each fall into the next, a
    thousand long; a label called while it is read (a loop of calls) adds nothing there."""
    opened: set[str] = set()
    pending = [label]
    while pending:
        current = pending[-1]
        if current in done:
            pending.pop()
        elif current not in opened:
            opened.add(current)
            pending += [
                step.label
                for step in steps.get(current, ())
                if isinstance(step, _Calls) and step.label not in done and step.label not in opened
            ]
        else:
            pending.pop()
            held: dict[str, Definition | None] = {}
            for step in steps.get(current, ()):
                if isinstance(step, _Calls):
                    called = done.get(step.label, {})
                    held.update(called if step.sure else dict.fromkeys(called))
                else:
                    held[step.var] = step.definition
            done[current] = held
    return done[label]

"""Ren'Py `.rpy` scripts and their translation files.

`define x = Character("Name")` maps a variable to a name; `x "text"` is a line of x,
`"Name" "text"` a line of a literal name, a bare `"text"` narration. In a translation
file each `translate <lang> <id>:` block holds the original as a `#` comment and the
translated line below it; comments are skipped, so the translated line is what we read.
`ParseOptions.renpy_language` says which say statements are read: the original ones
(outside translate blocks) or one language's translated ones, so that a game given with
its `game/tl/` folder does not yield every line twice.
Labels (and the label part of a translation id) are scenes. Python lines and blocks
(`$ …`, `python:`, `init python:`) and screen, style, transform and image blocks hold
code and interface text, never dialogue, and are skipped whole.
"""

from __future__ import annotations

import re

from dataprep.formats.common import UNRESOLVED_VARIABLE, ParseOptions
from dataprep.records import Utterance

# A string in double or single quotes (Ren'Py takes either), escapes included.
_STR = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
DEFINE = re.compile(r"^\s*define\s+([\w.]+)\s*=\s*(?:Dynamic)?Character\((.*)", re.M)
# A character's name: the first argument, or the `name=` keyword wherever it is; a
# string, a translatable _("string"), or None (a narrator).
_NAME_VALUE = r"""(?:_\(\s*)?(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(None)\b)"""
_FIRST_ARG = re.compile(rf"\s*(?:name\s*=\s*)?{_NAME_VALUE}")
_NAME_KEYWORD = re.compile(rf"[(,]\s*name\s*=\s*{_NAME_VALUE}")
_LABEL = re.compile(r"\s*label\s+([\w.]+)\s*(?:\(.*\))?\s*:")
_TRANSLATE = re.compile(r"\s*translate\s+(\w+)\s+([\w.]+)\s*:")
# `translate <lang> <id>:` blocks of translated dialogue, not of interface strings,
# python or style; `translate None` is the original language.
_NOT_DIALOGUE_IDS = frozenset({"strings", "python", "style"})
_DIALOGUE_TRANSLATION = re.compile(
    r"^[ \t]*translate[ \t]+(?!None\b)(\w+)[ \t]+"
    rf"(?!(?:{'|'.join(sorted(_NOT_DIALOGUE_IDS))})\b)[\w.]+[ \t]*:",
    re.M,
)
ORIGINAL = "original"
# A string open over more lines than this is a stray quote mark, not a long line.
_MAX_STRING_LINES = 20
_TRANSLATION_ID_HASH = re.compile(r"_[0-9a-f]{8}(?:_\d+)?$")
# `who attrs @ temporary-attrs "text"`: attributes are words, `-word` removes one, and
# those after `@` hold for this line only.
_SAY = re.compile(
    rf"""\s*(?:(?P<who>[A-Za-z_][\w.]*)(?P<attrs>(?:(?:\s*@\s*|\s+)[\w-]+)*)\s+|(?P<whostr>{_STR})\s+)?"""
    rf"""(?P<text>{_STR})(?P<rest>.*)$"""
)
# The start of a say statement whose string is still open at the end of the line.
_SAY_OPEN = re.compile(
    rf"""\s*(?:[A-Za-z_][\w.]*(?:(?:\s*@\s*|\s+)[\w-]+)*\s+|{_STR}\s+)?"""
    r"""(?:"(?:[^"\\]|\\.)*|'(?:[^'\\]|\\.)*)$"""
)
# Statements that take a string but are not dialogue.
_NOT_SPEAKERS = frozenset(
    [
        "show",
        "scene",
        "hide",
        "play",
        "queue",
        "stop",
        "voice",
        "sound",
        "music",
        "jump",
        "call",
        "image",
        "define",
        "default",
        "old",
        "new",
        "text",
        "textbutton",
        "style",
        "window",
        "pause",
        "with",
        "renpy",
        "python",
        "init",
        "menu",
        "if",
        "elif",
        "while",
        "return",
        "translate",
        "screen",
        "label",
        "nvl",
        "transform",
        "at",
        "as",
        "behind",
        "onlayer",
        "zorder",
        "camera",
    ]
)
# A statement that opens a block of code or interface (its indented body is skipped).
_CODE_BLOCK = re.compile(
    r"(?:init(?:\s+[-+]?\d+)?\s+)?(?:python|screen|style|transform|image)\b[^\"']*:\s*$"
    r"|init(?:\s+[-+]?\d+)?\s*:\s*$"
)
_NARRATORS = frozenset({"narrator", "centered", "vcentered"})
# `{{` is a literal "{"; any other {…} is a text tag, and a ruby reading goes with its tag.
_TEXT_TAG = re.compile(r"\{\{|\{rt\}.*?\{/rt\}|\{[^{}]*\}")
# `[[` is a literal "["; `[name]`, `[name!u]`, `[obj.attr:fmt]` interpolate a variable.
_INTERPOLATION = re.compile(r"\[\[|\[([\w.]+)[^\]\[]*\]")
# `$ player = renpy.input("Name?")`, `default name = renpy.input(...).strip()`, or the same
# inside a python block: the variable holds the player's name.
_INPUT = re.compile(
    r"^[ \t]*(?:\$[ \t]*|default[ \t]+|define[ \t]+)?([A-Za-z_][\w.]*)[ \t]*=[ \t]*renpy\.input\(",
    re.M,
)
# `define mc = "Max"`, `default title = _("Captain")`: a variable given a string.
_LITERAL = re.compile(
    rf"^[ \t]*(?:define|default)[ \t]+([A-Za-z_][\w.]*)[ \t]*=[ \t]*(?:_\([ \t]*)?({_STR})"
    r"[ \t]*\)?[ \t]*(?:#.*)?$",
    re.M,
)


def collect_characters(text: str) -> dict[str, str]:
    """Variable → display name for every `define x = Character(...)` in the text; a
    narrator (`Character(None, kind=nvl)`) maps to ""."""
    found: dict[str, str] = {}
    for var, args in DEFINE.findall(text):
        m = _FIRST_ARG.match(args) or _NAME_KEYWORD.search(args)
        if m is not None:
            found[var] = _unescape(m.group(1) or m.group(2) or "")
    return found


def resolve_names(characters: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """Character names that interpolate a variable (`Character("[player]")`) with its
    value; a name with a variable of no known value stays as written."""
    resolved = dict(characters)
    for var, name in characters.items():
        if "[" in name:
            said = _render(f'"{name}"', values)
            if said:
                resolved[var] = said
    return resolved


def string_variables(text: str) -> dict[str, str]:
    """Variable → value for every `define`/`default` of a non-empty string literal."""
    found: dict[str, str] = {}
    for var, raw in _LITERAL.findall(text):
        value = _unescape(raw[1:-1]).strip()
        if value:
            found[var] = value
    return found


def input_variables(text: str) -> set[str]:
    """The variables assigned from `renpy.input(...)`: the player's name."""
    return set(_INPUT.findall(text))


def translation_languages(text: str) -> set[str]:
    """The languages of the `translate <lang> <id>:` dialogue blocks in the text."""
    return set(_DIALOGUE_TRANSLATION.findall(text))


def _unescape(s: str) -> str:
    return s.replace('\\"', '"').replace("\\'", "'").replace("\\n", " ").replace("\\\\", "\\")


def _tag_or_brace(m: re.Match[str]) -> str:
    return "{" if m.group(0) == "{{" else ""


def _render(raw: str, names: dict[str, str]) -> str | None:
    """The text a player sees: tags dropped, ruby readings dropped, variables interpolated;
    None when a variable in it has no known value (the line would be left with a hole)."""
    text = _unescape(raw[1:-1])
    text = _TEXT_TAG.sub(_tag_or_brace, text)
    if "[" in text:
        unknown: list[str] = []

        def value(m: re.Match[str]) -> str:
            var = m.group(1)
            if var is None:
                return "["
            found = names.get(var)
            if found is None:
                unknown.append(var)
                return m.group(0)
            return found

        text = _INTERPOLATION.sub(value, text)
        if unknown:
            return None
    return text.strip()


def _whole_string(lines: list[str], number: int) -> tuple[str, int]:
    """Line `number` (1-based) joined with the lines that close the string its say
    statement leaves open, with a space as Ren'Py joins them, and the last line used;
    the line alone when it opens no say string or none of the next lines closes it."""
    line = lines[number - 1].strip()
    if _SAY_OPEN.match(line) is None:
        return line, number
    parts = [line]
    for last in range(number, min(number + _MAX_STRING_LINES, len(lines))):
        parts.append(lines[last].strip())
        joined = " ".join(parts)
        if _SAY_OPEN.match(joined) is None:
            return joined, last + 1
    return line, number


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    characters = dict(options.renpy_characters)
    for var, name in collect_characters(text).items():
        if "[" not in name or var not in characters:  # not over its resolved name
            characters[var] = name
    names = {**characters, **options.renpy_variables}
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = "0"
    last_speaker: str | None = None
    block_indent = -1  # indentation of the statement whose code block we are in
    # The language of the `translate` dialogue block we are in (None outside one), and the
    # block's indentation; a say statement is read when its language is the chosen one.
    language, translate_indent = None, -1
    chosen = options.renpy_language
    chosen = None if chosen == ORIGINAL else chosen
    every_language = options.renpy_language is None
    lines = text.splitlines()
    joined_until = 0  # the last line joined into a string that began above it
    for number, raw in enumerate(lines, 1):
        if number <= joined_until:
            continue
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        indent = len(raw) - len(raw.lstrip())
        if block_indent >= 0:
            if indent > block_indent:
                continue
            block_indent = -1
        if translate_indent >= 0 and indent <= translate_indent:
            language, translate_indent = None, -1
        if line[0] == "$":
            continue
        if _CODE_BLOCK.match(line):
            block_indent = indent
            continue
        if marker is not None and marker(line):
            scene = f"marker{number}"
            continue
        if line.startswith("label "):
            m = _LABEL.match(line)
            if m:
                scene = m.group(1)
            continue
        if line.startswith("translate "):
            m = _TRANSLATE.match(line)
            if m and m.group(2) == "python":
                block_indent = indent
            elif m and m.group(2) not in _NOT_DIALOGUE_IDS:
                label = _TRANSLATION_ID_HASH.sub("", m.group(2))
                scene = label or scene
                language = None if m.group(1) == "None" else m.group(1)
                translate_indent = indent
            continue
        if '"' not in line and "'" not in line:
            continue
        m = _SAY.match(line)
        if m is None:
            line, last = _whole_string(lines, number)
            m = _SAY.match(line) if last > number else None
            if m is None:
                continue
            joined_until = last
        if language != chosen and not every_language:
            continue
        rest = m.group("rest").strip()
        if rest.endswith(":"):
            continue  # a menu choice, not a line
        who, whostr = m.group("who"), m.group("whostr")
        if who in _NOT_SPEAKERS:
            continue
        if who == "extend":
            speaker = last_speaker
        elif whostr is not None:
            speaker = _unescape(whostr[1:-1]) or None
        elif who is None or who in _NARRATORS:
            speaker = None
        else:
            speaker = characters.get(who, who) or None
        said = _render(m.group("text"), names)
        if said is None:
            raw_text = m.group("text")[1:-1]
            out.append(Utterance(speaker, raw_text, source, number, scene, UNRESOLVED_VARIABLE))
        elif said:
            out.append(Utterance(speaker, said, source, number, scene))
        last_speaker = speaker
    return out

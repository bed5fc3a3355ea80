"""A Ren'Py game's translation files: what their `translate` blocks hold.

`translate <lang> <id>:` blocks translate say statements, `translate <lang> strings:`
blocks the other strings a game shows (`old "…"` / `new "…"`), and what the Python of a
`translate <lang> …:` block sets holds in that language only. Reading them (which
languages there are, each language's string translations, each dialogue block's
identifier and the line it names) is apart from the parser: the pipeline reads every
file's translations before it parses any. The identifiers the original's say statements
have are `say_ids`'s.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from dataprep.formats.renpy.statements import STR, block_end
from dataprep.formats.renpy.text import unescape

TRANSLATE = re.compile(r"\s*translate\s+(\w+)\s+([\w.]+)\s*:")
# `translate <lang> <id>:` blocks of translated dialogue, not of interface strings,
# python or style; `translate None` is the original language.
NOT_DIALOGUE_IDS = frozenset({"strings", "python", "style"})
_DIALOGUE_TRANSLATION = re.compile(
    r"^[ \t]*translate[ \t]+(?!None\b)(\w+)[ \t]+"
    rf"(?!(?:{'|'.join(sorted(NOT_DIALOGUE_IDS))})\b)[\w.]+[ \t]*:",
    re.M,
)
ORIGINAL = "original"
# `translate <lang> strings:` and its body (group 3): `old "…"` / `new "…"` pairs, the
# translation of a string the game shows (Ren'Py looks up every string it shows there,
# such as one wrapped in `_()` or `__()` for the translators).
_STRINGS_BLOCK = re.compile(
    r"^([ \t]*)translate[ \t]+(?!None\b)(\w+)[ \t]+strings[ \t]*:[ \t]*(?:#.*)?\n"
    r"((?:\1[ \t]+\S.*\n?|[ \t]*\n)*)",
    re.M,
)
# Any `translate <lang> …:` block and its body (group 3): a dialogue block, `strings`,
# `python`, `style <name>`. What its Python sets, it sets in that language only.
_TRANSLATE_BLOCK = re.compile(
    r"^([ \t]*)translate[ \t]++(\w+)[ \t]++[^\n:]*+:[ \t]*+(?:#.*)?\n"
    r"((?:\1[ \t]+\S.*\n?|[ \t]*\n)*)",
    re.M,
)
_OLD_NEW = re.compile(rf"^[ \t]*(old|new)[ \t]+({STR})[ \t]*(?:#.*)?$", re.M)
# `# game/script.rpy:12`: the comment Ren'Py writes above each `translate <lang> <id>:`
# block, the file (from the game's base folder) and line of the say statement it translates.
_ORIGIN = re.compile(r"#[ \t]*(\S[^:]*\.rpym?):(\d+)[ \t]*")


def by_language(text: str) -> tuple[str, dict[str, str]]:
    """The text outside `translate <lang> …:` blocks (`translate None` is the original
    language: it stays), and each language's block bodies: a `$ title = "船长"` in a
    Chinese block is no value of `title` in the original game."""
    if "translate" not in text:
        return text, {}
    outside: list[str] = []
    translated: dict[str, list[str]] = {}
    end = 0
    for m in _TRANSLATE_BLOCK.finditer(text):
        if m.group(2) == "None":
            continue
        outside.append(text[end : m.start()])
        translated.setdefault(m.group(2), []).append(m.group(3))
        end = m.end()
    outside.append(text[end:])
    return "".join(outside), {lang: "\n".join(parts) for lang, parts in translated.items()}


def translated_strings(text: str) -> dict[str, dict[str, str]]:
    """Language → {string → its translation} for the `old "…"` / `new "…"` pairs of the
    `translate <lang> strings:` blocks in the text: the string as `text.shown_text`
    takes it (unescaped), its translation as written (without its quotes), as a say string
    is."""
    found: dict[str, dict[str, str]] = {}
    if "strings" not in text:
        return found
    for block in _STRINGS_BLOCK.finditer(text):
        table = found.setdefault(block.group(2), {})
        old: str | None = None
        for m in _OLD_NEW.finditer(block.group(3)):
            if m.group(1) == "old":
                old = unescape(m.group(2)[1:-1])
            elif old is not None:
                table[old] = m.group(2)[1:-1]
                old = None
    return found


def translation_languages(text: str) -> set[str]:
    """The languages of the `translate <lang> <id>:` dialogue blocks in the text."""
    return set(_DIALOGUE_TRANSLATION.findall(text))


class Origin(NamedTuple):
    """A `translate <lang> <id>:` dialogue block (its first and last line), its
    identifier, and the say statement it translates as the comment above the block
    writes it: its file (`game/script.rpy`, from the game's base folder) and its line
    there ("" and 0 without the comment)."""

    first: int
    last: int
    file: str
    line: int
    identifier: str = ""


def translation_origins(text: str) -> list[Origin]:
    """The dialogue blocks of the text, in order, with the say statement each names (the
    `# game/script.rpy:12` comment Ren'Py writes above it) and its identifier, which
    `say_ids.say_identifiers` finds in the original."""
    if "translate" not in text:
        return []
    lines = text.splitlines()
    found: list[Origin] = []
    above: str | None = None  # the last line above that is not blank
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("translate "):
            m = TRANSLATE.match(line)
            origin = _ORIGIN.fullmatch(above) if above is not None else None
            if m is not None and m.group(1) != "None" and m.group(2) not in NOT_DIALOGUE_IDS:
                indent = len(raw) - len(raw.lstrip())
                last = block_end(lines, number, indent)
                file, at = (origin.group(1), int(origin.group(2))) if origin else ("", 0)
                found.append(Origin(number, last, file, at, m.group(2)))
        above = line
    return found


# A letter: a string copied as it is holds one ("……", the same in both languages, does not).
_LETTER = re.compile(r"[^\W\d_]")


def holds_letter(string: str) -> bool:
    """Whether a string holds a letter: one without ("……") reads the same in any language."""
    return _LETTER.search(string) is not None


def block_code(lines: list[str], origin: Origin) -> tuple[list[str], list[str]]:
    """A dialogue block's statements as written, and its `#` comments (less the `#`):
    Ren'Py's template writes the original's statements as comments above the statements
    to translate, and fills those in with the original too."""
    code: list[str] = []
    comments: list[str] = []
    for raw in lines[origin.first : origin.last]:
        line = raw.strip()
        if line.startswith("#"):
            comments.append(line[1:].strip())
        elif line:
            code.append(line)
    return code, comments


def copied_original(code: list[str], original: list[str]) -> bool:
    """Whether a dialogue block's statements (`block_code`) are the original's as they
    are (`original`: the block's comments, or the original's statement): the translation
    template Ren'Py pre-fills, never translated. Not where no string in them holds a
    letter (`e "……"` is the same in any language)."""
    return (
        bool(code)
        and code == original
        and any(_LETTER.search(s) for line in code for s in re.findall(STR, line))
    )


def holds_text(code: list[str]) -> bool:
    """Whether a dialogue block's statements (`block_code`) hold a string that is not
    empty: `e ""`, a template not filled in yet, translates nothing."""
    return any(s[1:-1].strip() for line in code for s in re.findall(STR, line))


def has_translated_text(text: str, language: str) -> bool:
    """Whether any of the text's `translate <language> <id>:` dialogue blocks holds a
    string that is not empty: an empty translation template (`e ""` in every block)
    translates nothing. A string speaker (`"..." ""`) is a name, no translated text."""
    for block in _TRANSLATE_BLOCK.finditer(text):
        if block.group(2) != language:
            continue
        head = text[block.start() : block.start(3)]
        if _DIALOGUE_TRANSLATION.match(head) is None:
            continue
        for line in block.group(3).splitlines():
            stripped = line.strip()
            if stripped[:1] == "#":
                continue
            strings = re.findall(STR, stripped)
            if len(strings) > 1 and stripped.startswith(strings[0]):
                strings = strings[1:]
            if any(s[1:-1].strip() for s in strings):
                return True
    return False


def block_languages(text: str) -> set[str]:
    """The languages of every `translate <lang> …:` block in the text: dialogue, `strings`
    (a game's tl/<lang>/common.rpy holds those only), `python` and `style`."""
    if "translate" not in text:
        return set()
    return {m.group(2) for m in _TRANSLATE_BLOCK.finditer(text)} - {"None"}


def string_languages(text: str) -> set[str]:
    """The languages of the text's `translate <lang> strings:` blocks."""
    return {m.group(2) for m in _STRINGS_BLOCK.finditer(text)} if "strings" in text else set()

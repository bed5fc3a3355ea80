"""The translation identifier of each say statement of a Ren'Py script.

A translation file names the say statement each `translate <lang> <id>:` block translates
by an identifier Ren'Py makes of the label above it and the md5 of the statement's code
(`say_code`); the pipeline finds the original's lines by it, as the comment above
the block (`translations.translation_origins`) goes stale once the script is
edited. Reading the script for it is a pass of its own, apart from the parser: it
groups statements as Ren'Py's translator does (voice and `nvl clear` lines with the say
statement below them, a menu's caption before it), which no line that is read needs.
"""

from __future__ import annotations

import hashlib
import re

from dataprep.formats.renpy.lines import logical_line
from dataprep.formats.renpy.say_code import NVL_CLEAR, munged, say_codes
from dataprep.formats.renpy.statements import (
    BEFORE_COMMENT,
    CODE_BLOCK,
    LABEL,
    MENU,
    MENU_LABEL,
    MONOLOGUE,
    NOT_SPEAKERS,
    block_end,
)

# Statements Ren'Py puts in one translate block with the say statement below them (they
# are "translatable"): Ren'Py before 8.5.1 hashes their code into its identifier too.
_TRANSLATABLE = re.compile(r"(?:voice\s+(?:sustain\s*$|\S)|nvl\s+clear\s*$)")
# The first word of a statement: a say statement's is its speaker, never a statement's.
_FIRST_WORD = re.compile(r"[^\W\d]\w*")
_QUOTE = re.compile("[\"'`]")


def say_identifiers(
    text: str, voice_hashed: bool = True, filename: str = "", before_8_3: bool = False
) -> dict[str, int]:
    """The translation identifier of each say statement of the text outside `translate`
    blocks → its line: what Ren'Py names the `translate <lang> <id>:` block that translates
    it (renpy/translation: the label, "." made "_", then "_" and the first 8 hex digits of
    the md5 of the statement's code (`say_code`) followed by CRLF; `_1`, `_2` …
    after one already taken). An `id` clause names it instead, and the identifier it would
    have had names it too (Ren'Py looks a translation up by either). Each paragraph of a
    triple-quoted string is a say statement of its own, at the statement's line. A game's
    translation is matched by it: the `# game/script.rpy:12` comment above a block goes
    stale when the script is edited after the translation files were made.
    `voice_hashed`: the code of the voice and `nvl clear` statements just above a say
    statement (in the same block) goes into the md5 before its own, as Ren'Py before 8.5.1
    hashes it; later versions hash the say statement alone. `filename`: the script's, whose
    name Ren'Py writes into a `__name` (`say_code.munged`; `before_8_3`: as versions
    before 8.3 do, outside strings and in a `[__name]` only)."""
    return _identified(_say_statements(text, filename), voice_hashed, before_8_3)


def say_identifier_schemes(text: str, filename: str = "") -> tuple[dict[str, int], ...]:
    """`say_identifiers` as Ren'Py makes them before 8.3, from 8.3 to 8.5.0, and from
    8.5.1 on."""
    statements = _say_statements(text, filename)
    voiced = _identified(statements, True)
    # Most scripts have no `__name` in a say statement: both versions' codes are one.
    older = any(
        code[0] != code[1] or any(c[0] != c[1] for c in block)
        for _, _, block, code, _ in statements
    )
    return (
        _identified(statements, True, True) if older else voiced,
        voiced,
        _identified(statements, False),
    )


# A statement's code as Ren'Py 8.3 and later write it, and as earlier versions do (they
# differ in a `__name` only: `say_code.munged`).
_Code = tuple[str, str]
# A say statement: its line, label, the voice and `nvl clear` statements above it, its
# code and the identifier its `id` clause gives it.
_SayStatement = tuple[int, str | None, list[_Code], _Code, str | None]


def _both(code: str, filename: str) -> _Code:
    return (munged(code, filename), munged(code, filename, True)) if "__" in code else (code, code)


def _say_statements(text: str, filename: str = "") -> list[_SayStatement]:
    """The say statements of the text outside `translate` blocks (`say_identifiers`)."""
    statements: list[_SayStatement] = []
    lines = text.splitlines()
    label: str | None = None
    # Translatable statements above the next say statement, and their indent: Ren'Py
    # groups those of one block (a label's, an `if`'s, a choice's), so a block's end ends
    # the group, its statements a `translate` block of their own.
    block: list[_Code] = []
    block_indent = 0
    # Each open menu's indent, its body's (a say statement there is its caption), and the
    # translatable statements above it: Ren'Py puts its caption before it, below them.
    menus: list[tuple[int, int, list[_Code]]] = []
    monologue = "double"
    skip_until = 0
    for number, raw in enumerate(lines, 1):
        if number <= skip_until:
            continue
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        # The lines a statement goes on over are its own, whatever statement it is.
        whole = logical_line(lines, number, python=line[0] == "$")
        skip_until = number if whole is None else whole.last
        indent = len(raw) - len(raw.lstrip())
        if block and indent < block_indent:
            block = []
        while menus and indent <= menus[-1][0]:
            menus.pop()
        if menus and menus[-1][1] < 0:
            menus[-1] = (menus[-1][0], indent, menus[-1][2])
        if line.startswith("menu") and MENU.match(line):
            # `menu chooser:` is a label too, that of the say statements below it.
            named = MENU_LABEL.match(line)
            if named is not None and not named.group(1).startswith("_"):
                label, block = named.group(1), []
            menus.append((indent, -1, block))
            block = []
            continue
        if CODE_BLOCK.match(line) or line.startswith("translate "):
            skip_until = block_end(lines, number, indent)
            block = []
            continue
        if line.startswith("label "):
            m = LABEL.match(line)
            if m is not None and not m.group(1).startswith("_"):
                name = m.group(1)
                if name.startswith(".") and label is not None:
                    name = label.split(".")[0] + name
                label = name
            block = []
            continue
        if line.startswith("rpy "):
            m = MONOLOGUE.match(line)
            if m is not None:
                monologue = m.group(1)
            continue
        if line[0] == "$":
            block = []  # Python: no say statement
            continue
        if _TRANSLATABLE.match(line):
            if not block:
                block_indent = indent
            written = BEFORE_COMMENT.match(line).group(0).strip()  # type: ignore[union-attr]
            block.append(_both(written, filename))
            continue
        if whole is None or _QUOTE.search(whole.text) is None:
            block = []
            continue
        statement = whole.text
        said = older = None
        word = _FIRST_WORD.match(line)
        if word is None or word.group(0) not in NOT_SPEAKERS:
            caption = bool(menus) and indent == menus[-1][1]
            said = older = say_codes(
                munged(statement, filename), caption=caption, monologue=monologue
            )
            if said is not None and "__" in statement:
                older = say_codes(
                    munged(statement, filename, True), caption=caption, monologue=monologue
                )
            if said is not None and older is not None and caption:
                block = menus[-1][2]
        if said is None or older is None or len(said[0]) != len(older[0]):
            block = []
            continue
        codes, explicit = said
        for code, old_code in zip(codes, older[0], strict=True):
            if code == NVL_CLEAR:
                if not block:
                    block_indent = indent
                block.append((code, code))
                continue
            statements.append((number, label, block, (code, old_code), explicit))
            block = []
    return statements


def _identified(
    statements: list[_SayStatement], voice_hashed: bool, before_8_3: bool = False
) -> dict[str, int]:
    """Each say statement's identifier (and the one its `id` clause replaced) → its line,
    as renpy/translation `Restructurer.unique_identifier` makes them: one taken, or given
    by an `id` clause anywhere in the file, gets `_1`, `_2` … (`before_8_3`: its code as
    versions before 8.3 write it)."""
    which = int(before_8_3)
    found: dict[str, int] = {}
    given = {explicit for *_, explicit in statements if explicit is not None}
    taken: set[str] = set()
    for number, label, block, code, explicit in statements:
        codes = [*(c[which] for c in block), code[which]] if voice_hashed else [code[which]]
        digest = hashlib.md5("".join(f"{c}\r\n" for c in codes).encode("utf-8")).hexdigest()[:8]
        base = f"{label.replace('.', '_')}_{digest}" if label else digest
        identifier, count = base, 0
        while identifier in taken or identifier in given:
            count += 1
            identifier = f"{base}_{count}"
        taken.add(identifier)
        found.setdefault(identifier, number)
        if explicit is not None:
            taken.add(explicit)
            found.setdefault(explicit, number)
    return found

"""Python in a Ren'Py script that says a line: `renpy.say(e, "…")`, or `e("…")`.

The parser reads such a call, on a `$` line or in a story's `python:` block, as the say
statement `e "…"`. Reading it follows Python's rules, not a say statement's: adjacent and
added literals are one string, a function's body runs where it is called, a Python 2
line parses on its own or not at all. What a call says comes back as a `Said`, as a say
statement's reading gives it.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Container, Iterable, Iterator
from typing import NamedTuple

from dataprep.formats.common import COMPUTED_TEXT
from dataprep.formats.renpy.statements import (
    STR,
    TRIPLE,
    block_end,
    block_statements,
    monologue_lines,
)
from dataprep.formats.renpy.text import string_translation, unescape
from dataprep.formats.renpy.translations import holds_letter
from dataprep.records import UNTRANSLATED

# Python that says a line: `renpy.say(who, what, …)`, or a character called with what it
# says, `e("Hello.")` (a defined character, a narrator, or `extend`). Keyword arguments
# after the text (`interact=False`) change nothing said. Such Python is read with `ast`,
# not a pattern: its arguments may hold any expression, and the parser takes a long or
# broken line in one pass.
SAY_FUNCTION = "renpy.say"
# What `ast.parse` raises for source that is not Python 3 (a Python 2 `print "x"`, a
# stray quote mark) or is nested too deep to parse.
_NOT_PYTHON = (SyntaxError, ValueError, MemoryError, RecursionError)
# Nodes whose statements run where they are: not a function's or class's body.
_RUN_HERE = (ast.stmt, ast.excepthandler, ast.match_case)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# One of the string literals a string argument is written as: a literal as a say statement
# holds one (`u"…"` too, not an f-, r- or b-string), then the blanks, line ends and
# comments before the next literal that Python joins to it (`"Hello, " "world."`).
_JOINED_LITERAL = re.compile(rf"[uU]?({TRIPLE}|{STR})(?:\s|\\\n|#[^\n]*)*", re.S)
# Text tags (`{i}`) and interpolated variables (`[name]`): no words of the line's language.
_TAGS_AND_VARIABLES = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
# The drop reason of a line said by a `$` call whose brackets are never closed.
UNCLOSED_CALL = "unclosed_call"
# The speaker of `renpy.say(who, …`, for a say call that is never closed.
_SAY_CALL_WHO = re.compile(
    rf"renpy\.say\(\s*(?:who\s*=\s*)?(?:(None)|([^\W\d][\w.]*)|({STR}))\s*(?:,|$)"
)


def in_language(spoke: Said, strings: dict[str, str], original: bool = True) -> Said:
    """What Python says, its strings as the chosen language shows them: Ren'Py looks up
    every string a character says among the string translations (those the game wraps
    in `_()` are the ones written out for the translators) and shows it untranslated
    when none is there. In the `original`'s Python (not a translate block's) such a line
    is not the language's: it is dropped as UNTRANSLATED, as a say statement the
    translation leaves in the original is (a string without a letter, "……", reads the
    same in any language)."""
    if spoke.unusable is not None:
        return spoke
    said = []
    for at, written in spoke.said:
        new = string_translation(unescape(written), strings)
        if new is None and original and holds_letter(_TAGS_AND_VARIABLES.sub("", written)):
            return spoke._replace(unusable=UNTRANSLATED)
        said.append((at, written if new is None else new))
    return spoke._replace(said=said)


class Said(NamedTuple):
    """What one statement says, as the say statement `who "…"` / `"Name" "…"` / `"…"`
    has it: `who` a character variable (None for narration or a literal name), `whostr`
    a literal name with its quotes, `said` (line number, the string as written without
    its quotes) for each line shown. `unusable`: Python gave no literal, and `said`
    holds the code instead, dropped for this reason (COMPUTED_TEXT: an expression that
    computes the text; UNCLOSED_CALL: a call whose brackets are never closed;
    UNCLOSED_STRING: a say statement whose string is never closed)."""

    who: str | None
    whostr: str | None
    said: list[tuple[int, str]]
    unusable: str | None = None


def callee(statement: str) -> str:
    """What a Python statement calls when it is a call (`renpy.say`, `e`): the words
    before its first "(" (a quick test before parsing it), as Python reads them: a
    backslash at a line's end (`e \\`, then `("Hi")` below) joins the lines."""
    return statement.partition("(")[0].replace("\\\n", " ").strip()


def python_says(source: str, first_line: int, callers: Container[str]) -> list[Said] | None:
    """What the say calls among the statements of Python `source` say (its line 1 is
    line `first_line` of the script); None when it is not Python 3."""
    try:
        with warnings.catch_warnings():
            # A script's "\%" is an invalid escape to Python, which warns of it: not ours.
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except _NOT_PYTHON:
        return None
    # Byte offsets (as ast gives columns) into each line, for the arguments as written.
    encoded = [line.encode() for line in source.split("\n")]
    found = []
    for call in _statement_calls(tree.body):
        said = _said_by(call, encoded, first_line, callers)
        if said is not None:
            found.append(said)
    return found


def _statement_calls(nodes: Iterable[ast.AST]) -> Iterator[ast.Call]:
    """The calls that are a statement of their own, in source order: in a branch, loop or
    `try` too, but not in a function or class body, which runs where it is called."""
    for node in nodes:
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Call):
                yield node.value
        elif not isinstance(node, _DEFINITIONS):
            children = ast.iter_child_nodes(node)
            yield from _statement_calls(c for c in children if isinstance(c, _RUN_HERE))


def _said_by(
    call: ast.Call, encoded: list[bytes], first_line: int, callers: Container[str]
) -> Said | None:
    """What a call says when it is `renpy.say(who, what, …)` or a caller's `e(what, …)`,
    None for any other call (or a say of a speaker no say statement could name)."""
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None  # `renpy.say(*line)`: which argument is which is not written here
    function = _dotted(call.func)
    args = list(call.args)
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    who: str | None = None
    whostr: str | None = None
    if function == SAY_FUNCTION:
        speaker = args.pop(0) if args else keywords.get("who")
        if speaker is None:
            return None
        if not (isinstance(speaker, ast.Constant) and speaker.value is None):
            who = _dotted(speaker)
            if who is None:
                name = _literal(speaker, encoded)
                if name is None or name[1]:
                    return None  # `chars[i]`, a triple-quoted name: not a speaker as written
                whostr = f'"{name[0]}"'
    elif function is not None and function in callers:
        who = function
    else:
        return None
    what = args[0] if args else keywords.get("what")
    if what is None:
        return None
    line = first_line + what.lineno - 1
    literal = _literal(what, encoded)
    if literal is None:
        return Said(who, whostr, [(line, _segment(what, encoded))], COMPUTED_TEXT)
    written, triple = literal
    if triple:
        # A triple-quoted string is one line on screen: Python has no monologue mode.
        return Said(who, whostr, monologue_lines(f'"""{written}"""', line, "none"))
    return Said(who, whostr, [(line, written)])


def _dotted(node: ast.expr) -> str | None:
    """`e`, `store.e`: a variable as written, None for any other expression."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return None if owner is None else f"{owner}.{node.attr}"
    return None


def _literal(node: ast.expr, encoded: list[bytes]) -> tuple[str, bool] | None:
    """A string argument as a say statement would hold it: (its text as written, without
    its quotes or a `u` prefix, and whether it is triple-quoted); `_("…")` and `__("…")`
    are the string they translate. Adjacent literals (`"Hello, " "world."`) are one
    string, their texts joined as written: Python joins them when it compiles the call,
    so the game shows one constant; so are literals added (`"Hello, " + "world."`), a
    sum of constants. None when it is not string literals alone."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, encoded), _literal(node.right, encoded)
        if left is None or right is None:
            return None
        return left[0] + right[0], left[1] or right[1]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "__")
        and len(node.args) == 1
        and not node.keywords
    ):
        node = node.args[0]
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return None
    source = _segment(node, encoded)
    pieces: list[str] = []
    pos = 0
    while pos < len(source):
        m = _JOINED_LITERAL.match(source, pos)
        if m is None:
            return None  # an r-, b- or f-string among them: not as a say statement holds it
        pieces.append(m.group(1))
        pos = m.end()
    triple = [piece[0] * 3 == piece[:3] for piece in pieces]
    text = "".join(p[3:-3] if long else p[1:-1] for p, long in zip(pieces, triple, strict=True))
    return text, any(triple)


def _segment(node: ast.expr, encoded: list[bytes]) -> str:
    """The source of a node as written (`ast.get_source_segment` splits the whole source
    again at every call: slow for many calls in a long block)."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    start, end = node.col_offset, node.end_col_offset
    if first == last:
        return encoded[first][start:end].decode()
    lines = [encoded[first][start:], *encoded[first + 1 : last], encoded[last][:end]]
    return b"\n".join(lines).decode()


def python_block_says(
    lines: list[str], number: int, indent: int, callers: Container[str]
) -> list[Said]:
    """What the say calls of the `python:` block that line `number` opens say."""
    last = block_end(lines, number, indent)
    body = lines[number:last]
    if not any("(" in line for line in body):
        return []
    # Under `if 1:` the body parses at whatever indent it has, string lines at column 0
    # included; that line stands for the block's own, `number`.
    found = python_says("\n".join(["if 1:", *body]), number, callers)
    return _python_lines_say(lines, number, last, callers) if found is None else found


def _python_lines_say(
    lines: list[str], number: int, last: int, callers: Container[str]
) -> list[Said]:
    """What the say calls of lines `number` + 1 to `last` say when they are not Python 3
    as a whole (a Python 2 game's `print "x"` among them): each statement that parses
    on its own (over the lines it goes on over), outside a function or class body."""
    found: list[Said] = []
    definition = -1  # the indent of the `def` or `class` whose body this is
    for at, end, indent in block_statements(lines, number, last):
        if definition < 0 or indent <= definition:
            definition = -1
            stripped = lines[at - 1].strip()
            if stripped.startswith(("def ", "class ", "async def ")):
                definition = indent
            elif callee(statement := "\n".join([stripped, *lines[at:end]])) in callers:
                found += python_says(statement, at, callers) or []
    return found


def unclosed_say(first: str, number: int) -> Said | None:
    """What a `$` say call on line `number` whose brackets or string are never closed
    says (`first`, the line after `$`): a line of the character called (of the speaker
    `renpy.say` names, if it names one as written), its text unknown."""
    who: str | None = None
    whostr: str | None = None
    if callee(first) == SAY_FUNCTION:
        m = _SAY_CALL_WHO.match(first)
        if m is None or (m.group(3) is not None and m.group(3)[0] * 3 == m.group(3)[:3]):
            return None  # a speaker not written here, or as no say statement could
        who, whostr = m.group(2), m.group(3)
    else:
        who = callee(first)
    return Said(who, whostr, [(number, first)], UNCLOSED_CALL)

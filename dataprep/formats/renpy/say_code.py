"""A Ren'Py say statement's code as Ren'Py itself writes it, the text its translation
identifier hashes (`say_ids.say_identifiers`).

Ren'Py reads a statement as a logical line (`lines.logical_line`), parses it
(renpy/parser.py `say_statement`, `finish_say`, `parse_arguments`) and writes it back with
`Say.get_code` (renpy/ast.py): `who attributes @ temporary "what" nointeract id x (args)
with y`, the string as `encode_say_string` writes it. A triple-quoted string is one say
statement per paragraph (monologue mode), each with the same speaker and clauses.
"""

from __future__ import annotations

import re

# Ren'Py's lexer (renpy/lexer.py): words, image-name words, keywords a name never is.
_WORD = re.compile(r"[a-zA-Z_\u00a0-\ufffd][0-9a-zA-Z_\u00a0-\ufffd]*")
_IMAGE_WORD = re.compile(r"[-0-9a-zA-Z_\u00a0-\ufffd]+")
_KEYWORDS = frozenset({"as", "if", "in", "return", "with", "while"})
_IMAGE_KEYWORDS = frozenset({"behind", "at", "onlayer", "with", "zorder", "transform"})
_SPACE = re.compile(r"(?:[ \n]+|\\\n)+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_OPERATOR = re.compile(
    r"<>|<<|<=|<|>>|>=|>|!=|==|\||\^|&|\+|-|\*\*|\*|//|/|%|~|@|:=|\bor\b|\band\b|\bnot\b|\bin\b|\bis\b"
)
_SAY_STRING = re.compile(r'r?(?:"(?:[^\\"]|\\.)*"|\'(?:[^\\\']|\\.)*\'|`(?:[^\\`]|\\.)*`)', re.S)
_SAY_TRIPLE = re.compile(
    r'r?(?:"""(?:[^\\"]|\\.|"(?!""))*"""|\'\'\'(?:[^\\\']|\\.|\'(?!\'\'))*\'\'\''
    r"|```(?:[^\\`]|\\.|`(?!``))*```)",
    re.S,
)
_PYTHON_STRING = re.compile(
    r'[urfbURFB]{0,2}(?:"""(?:[^\\"]|\\.|"(?!""))*"""|\'\'\'(?:[^\\\']|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^\\"]|\\.)*"|\'(?:[^\\\']|\\.)*\')',
    re.S,
)
# Where a Python string would open: its prefix, then its quote mark.
_STRING_QUOTE = re.compile(r"[urfbURFB]{0,2}([\"'])")
_CLOSING = {"(": ")", "[": "]", "{": "}"}

# The string as the lexer reads it: runs of spaces and line ends one space, then escapes.
_BLANKS = re.compile(r"[ \n]+")
_ESCAPE = re.compile(r"\\(u([0-9a-fA-F]{1,4})|.)")
_DEQUOTED = {"{": "{{", "[": "[[", "%": "%%", "n": "\n"}
_LINE_END_SPACES = re.compile(r" *\n *")
_SPACES = re.compile(r" +")
_SECOND_SPACE = re.compile(r"(?<= ) ")
# Where a triple-quoted string is cut into say statements (`rpy monologue …`).
_MONOLOGUE_DELIMITER = {"double": "\n\n", "single": "\n", "none": None}
# A monologue paragraph that is this clears the NVL window: an `nvl clear` statement.
_CLEAR = "{clear}"
NVL_CLEAR = "nvl clear"


# Names that start with `__` are private to their file: Ren'Py's lexer writes
# `_m1_<file>__name` for them (renpy/lexer.py `munge_filename`, `get_string_munger`), the
# say statement's code included. Since 8.3 (`config.munge_in_strings`) a `__name` anywhere
# in the line, strings too, that holds no second `__`; before, a word outside strings
# (ASCII letters, digits and `_`) holding no second `__`, and in a string holding "[__"
# only a `[__name` (an odd number of brackets) or a `.__name`.
MUNGED = re.compile(r"\b__([a-zA-Z0-9\u0080-\U0010FFFF]+(?:_[a-zA-Z0-9\u0080-\U0010FFFF]+)*_?)\b")
_OLD_STRING_OR_WORD = re.compile(
    rf"(?P<string>{_PYTHON_STRING.pattern}|`(?:[^\\`]|\\.)*`)|[A-Za-z0-9_]+", re.S
)
# Brackets are tried only where their run starts, possessively: from each "[" of a long run
# not followed by `__` the run was read again (40,000 took 5 s, quadratic).
_OLD_IN_STRING = re.compile(r"(\.|(?<!\[)\[++)__(\w+)")
_NOT_IN_PREFIX = re.compile(r"[^a-zA-Z0-9_]")


def munge_prefix(filename: str) -> str:
    """What Ren'Py puts for the `__` of a private name in the file (`munge_filename`):
    `_m1_script__` in game/script.rpy."""
    name = re.split(r"[\\/]", filename)[-1]
    name = name[:-7] if name.endswith("_ren.py") else name
    stem, dot, _ = name.rpartition(".")
    name = stem if dot and stem.strip(".") else name
    name = _NOT_IN_PREFIX.sub(lambda m: hex(ord(m.group(0))), name.replace(" ", "_"))
    return f"_m1_{name}__"


def munged(line: str, filename: str, before_8_3: bool = False) -> str:
    """A logical line with its private names as Ren'Py's lexer writes them (`MUNGED`), by
    the rules of Ren'Py 8.3 and later, or of earlier versions (`before_8_3`)."""
    if "__" not in line:
        return line
    prefix = munge_prefix(filename)
    if not before_8_3:
        return MUNGED.sub(lambda m: prefix + m.group(1), line)

    def in_string(m: re.Match[str]) -> str:
        brackets, name = m.group(1), m.group(2)
        if len(brackets) % 2 == 0 or "__" in name:
            return m.group(0)
        return brackets + prefix + name

    def piece(m: re.Match[str]) -> str:
        written = m.group(0)
        if m.group("string") is not None:
            return _OLD_IN_STRING.sub(in_string, written) if "[__" in written else written
        if len(written) >= 3 and written.startswith("__") and "__" not in written[2:]:
            return prefix + written[2:]
        return written

    return _OLD_STRING_OR_WORD.sub(piece, line)


class _NotSay(Exception):
    """The statement is not one Ren'Py parses as a say statement."""


def _dequote(m: re.Match[str]) -> str:
    c = m.group(1)
    if c[0] == "u" and m.group(2):
        return chr(int(m.group(2), 16))
    return _DEQUOTED.get(c, c)


def _encode(what: str) -> str:
    """renpy/translation `encode_say_string`."""
    what = what.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return '"' + _SECOND_SPACE.sub("\\\\ ", what) + '"'


class _Lexer:
    """The few parts of Ren'Py's `Lexer` a say statement needs, over one logical line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        # Where a string opened in each quote mark was never closed: every later one in
        # that mark is escaped in it, so it is not closed either. Tried at each of a run
        # of `\"` in backticks, each read to the end (40k characters took 10 s).
        self.unclosed: dict[str, int] = {}

    def skip_whitespace(self) -> None:
        if not self.text.startswith((" ", "\n", "\\"), self.pos):
            return
        m = _SPACE.match(self.text, self.pos)
        if m is not None:
            self.pos = m.end()

    def match(self, regex: re.Pattern[str]) -> str | None:
        self.skip_whitespace()
        m = regex.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group(0)

    def literal(self, char: str) -> bool:
        self.skip_whitespace()
        if self.text.startswith(char, self.pos):
            self.pos += len(char)
            return True
        return False

    def eol(self) -> bool:
        self.skip_whitespace()
        return self.pos >= len(self.text)

    def keyword(self, word: str) -> bool:
        old = self.pos
        if self.match(_WORD) == word:
            return True
        self.pos = old
        return False

    def name(self) -> str | None:
        old = self.pos
        word = self.match(_WORD)
        if word is None:
            return None
        if (word in ("r", "u", "ur") and self.text[self.pos : self.pos + 1] in "\"'`") or (
            word in _KEYWORDS
        ):
            self.pos = old
            return None
        return word

    def python_string(self) -> bool:
        self.skip_whitespace()
        opens = _STRING_QUOTE.match(self.text, self.pos)
        if opens is None:
            return False
        quote, at = opens.group(1), opens.start(1)
        if at >= self.unclosed.get(quote, len(self.text)):
            return False
        m = _PYTHON_STRING.match(self.text, self.pos)
        if m is None:
            self.unclosed[quote] = at
            return False
        self.pos = m.end()
        return True

    def parenthesised(self) -> bool:
        closing = _CLOSING.get(self.text[self.pos : self.pos + 1])
        if closing is None:
            return False
        self.pos += 1
        self.delimited(closing)
        self.pos += 1
        return True

    def delimited(self, delimiters: str) -> str:
        """Python up to one of `delimiters` (not taken), as written (renpy's
        `delimited_python`)."""
        start = self.pos
        while not self.eol():
            c = self.text[self.pos]
            if c in delimiters:
                return self.text[start : self.pos]
            if self.python_string() or self.parenthesised():
                continue
            self.pos += 1
        raise _NotSay

    def simple_expression(self, operator: bool = True) -> str | None:
        start = self.pos
        while True:
            while self.match(_OPERATOR):
                pass
            if self.eol():
                break
            if not (
                self.python_string() or self.name() or self.match(_FLOAT) or self.parenthesised()
            ):
                break
            while True:
                if self.eol():
                    break
                if self.literal("."):
                    if self.match(_WORD) is None:
                        raise _NotSay
                    continue
                if self.parenthesised():
                    continue
                break
            if operator and self.match(_OPERATOR):
                continue
            break
        text = self.text[start : self.pos].strip()
        return text or None

    def attributes(self) -> list[str] | None:
        found = []
        while True:
            old = self.pos
            prefix = "-" if self.literal("-") else ""
            word = self.match(_IMAGE_WORD)
            if word in ("r", "u") and self.text[self.pos : self.pos + 1] in "\"'`":
                word = None
            if word is None or word in _KEYWORDS or word in _IMAGE_KEYWORDS:
                self.pos = old
                break
            found.append(prefix + word)
        return found or None

    def arguments(self) -> str | None:
        """An argument list, as `ArgumentInfo.get_code` writes it; None when none."""
        if not self.literal("("):
            return None
        written: list[str] = []
        while not self.literal(")"):
            star = "**" if self.literal("**") else "*" if self.literal("*") else ""
            keyword = ""
            if not star:
                old = self.pos
                word = self.match(_WORD)
                if word and self.literal("=") and not self.text.startswith("=", self.pos):
                    keyword = f"{word}="
                else:
                    self.pos = old
            self.skip_whitespace()
            written.append(star + keyword + self.delimited("),"))
            if self.literal(")"):
                break
            if not self.literal(","):
                raise _NotSay
        return "(" + ", ".join(written) + ")"

    def say_string(self, monologue: str) -> tuple[list[str], bool] | None:
        """The say statement's string, or each paragraph of a triple-quoted one, as the
        lexer reads it (`string`, `triple_string`), and whether it was triple-quoted."""
        written = self.match(_SAY_TRIPLE)
        if written is not None:
            if written[0] == "r":
                return [written[4:-3]], False
            text = _LINE_END_SPACES.sub("\n", written[3:-3])
            delimiter = _MONOLOGUE_DELIMITER[monologue]
            pieces = text.split(delimiter) if delimiter else [text]
            said = []
            for piece in pieces:
                piece = piece.strip()
                if piece:
                    piece = (_BLANKS if delimiter else _SPACES).sub(" ", piece)
                    said.append(_ESCAPE.sub(_dequote, piece))
            return said, True
        written = self.match(_SAY_STRING)
        if written is None:
            return None
        if written[0] == "r":
            return [written[2:-1]], False
        return [_ESCAPE.sub(_dequote, _BLANKS.sub(" ", written[1:-1]))], False


def _finish(
    lex: _Lexer, who: list[str], said: tuple[list[str], bool], interact: bool
) -> tuple[list[str], str | None]:
    with_ = identifier = arguments = None
    while not lex.eol():
        if lex.keyword("nointeract"):
            interact = False
        elif lex.keyword("with"):
            with_ = lex.simple_expression()
            if with_ is None:
                raise _NotSay
        elif lex.keyword("id"):
            identifier = lex.name()
            if identifier is None:
                raise _NotSay
        else:
            found = lex.arguments()
            if found is None:
                break
            arguments = found
    after = ["nointeract"] if not interact else []
    if identifier is not None:
        after += ["id", identifier]
    if arguments is not None:
        after.append(arguments)
    if with_ is not None:
        after += ["with", with_]
    texts, monologue = said
    codes = [
        NVL_CLEAR if monologue and what == _CLEAR else " ".join([*who, _encode(what), *after])
        for what in texts
    ]
    return codes, identifier


def say_codes(
    statement: str, caption: bool = False, monologue: str = "double"
) -> tuple[list[str], str | None] | None:
    """The code of each say statement a logical line (`lines.logical_line`) is, as `Say.get_code`
    writes it (several for a triple-quoted string: `NVL_CLEAR` for a `{clear}` paragraph),
    and the identifier its `id` clause gives; None when Ren'Py would not parse it as a say
    statement. A menu's caption (`caption`) never waits for a click: it is `nointeract`.
    `monologue`: the file's `rpy monologue` mode (double, single or none)."""
    try:
        lex = _Lexer(statement)
        # A menu's string with no speaker is its own caption, no say statement.
        said = None if caption else lex.say_string(monologue)
        if said is not None:
            done = _finish(lex, [], said, True)
            if lex.eol():
                return done
        lex.pos = 0
        who = lex.simple_expression(operator=caption)
        attributes = lex.attributes() or []
        temporary = lex.attributes() if lex.literal("@") else None
        said = lex.say_string(monologue)
        if who is None or said is None:
            return None
        written = [who, *attributes, *(["@", *temporary] if temporary else [])]
        done = _finish(lex, written, said, not caption)
        return done if lex.eol() else None
    except _NotSay:
        return None

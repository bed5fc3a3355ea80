"""Artemis engine `.ast` scenario scripts: one Lua table a file.

    astver = 2.0                      -- `astver` and `astname` may be missing
    ast = {
        block_00000 = {
            {"savetitle", text="第Ⅰ章"},  -- a command: never said
            {"bg", file="bg004a", path=":bg/", sync=0},
            text = {
                vo = {{"vo", file="fem_atr_00001", ch="atr"}},
                ja = {
                    {
                        name = {"アトリ"},
                        "「はい。",
                        {"rt2"},
                        "高性能ですから！」",
                        {"rt2"},
                    },
                },
                en = {...},
            },
            select = {ja = {"海へ行く", "家に帰る"}},
            linknext = "block_00001",
        },
        label = {top = {block = "block_00000", label = 1}},
    }

The file is read as Lua reads its table (`_Reader`): strings in double or single quotes
with Lua's escapes, `[[long strings]]`, numbers, `nil`, `true`, `false`, comments (`--`),
and tables whose members are values or `key = value` pairs (a key bare, quoted or in
brackets: `delay = {[1000] = {…}}`).

Each block's `text.<language>` holds its message boxes, in order. A box's strings are
its words; `{"rt2"}` or `{"ret2"}` ends one of the lines the box shows (a Chinese patch
writes `"A\\nB"` for `"A", {"rt2"}, "B"`), and those lines read as one (`join_pieces`);
`{"ruby", text="つぶらぎ"}` … `{"/ruby"}` (or `{"txruby", text=…}` … `{"txruby"}`) puts
furigana over the words between, which are kept; any other table in a box is an inline
command (`{"exfont", size=…}`, `{"txkey"}`), never said. A box's `name` lists who speaks
and the name the box shows (`{"アトリ", "？？？"}`, `{"kan_a", "少女"}`; or one a language,
`{name="…", ja="…"}`): the one that is an alias of the lead or the character is the
speaker, else the first that is neither the engine's id of a character (lower-case
ASCII) nor only question marks (`？？？` while her name is not known yet). A box without
a name is narration, unless it is its block's one box and the block's one voice
(`vo = {{"vo", file=…, ch="atr"}}`) has a `ch` that is an alias: a game that shows no
names says who speaks only so.

The older layout (files with no `astver`) keeps the text outside the blocks: the blocks,
not keyed, hold commands only, and each with a `{"text"}` or `{"select"}` shows the next
entry of the one `ast.text = {[1] = {…}, …}`. An entry holds its language tables
(`ja = {{…box…}}`, or `ja = {"…", {"rt2"}}`, the box itself) and a `name` for their
boxes (`{"name", name="…", en="…"}`, beside them or inside the language's table); or,
with no language, its one box and `name = {name="…"}`; or a `select`.

The language read is `[dataprep] artemis_language` (`ParseOptions.artemis_language`), or,
when that is "auto", the one whose boxes the lead and the character speak most often
(a port's `cn` beside the original's `ja`, for Chinese aliases); on a tie, the one
written in the card's language (`ParseOptions.card_language`), else the first.

A `{"savetitle", text=…}` that changes the title starts a scene. A `select` (the player's
choice) ends the exchange: which block each choice goes on to is the game's to decide, so
the lines after it never answer those before it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NoReturn

from dataprep.errors import DataprepError
from dataprep.formats.common import ParseOptions, join_pieces, tidy_name
from dataprep.languages import LANGUAGE_CODES, SAMPLE_CHARS, sample_language
from dataprep.records import Utterance
from dataprep.speakers import normalise_name

# What an Artemis script starts with (after a BOM, blanks and comments): a sniffed file
# whose name does not say `.ast` is one.
SIGNATURE = re.compile(r"\ufeff?(?:\s++|--[^\n]*+)*+(?:astver|astname|ast)\s*=\s*[\d\"'{]")

# Blanks and comments, before each token.
# Every repetition in these patterns is possessive (`*+`, `++`): a token that fails to
# match (a string never closed after a long run of blanks) must fail at once, never try
# each way of splitting the blanks before it (which took 20 s for 25 blanks).
# A long comment never closed (`--[[` …) is no line comment: the file fails there, once,
# instead of each such line looking for its close to the file's end.
_BLANKS_BEFORE = r"(?:\s++|--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--(?!\[=*\[)[^\n]*+)*+"
# One token; `key` is a bare name and its `=`.
_ONE_TOKEN = r"""(?:(?P<key>[A-Za-z_]\w*)\s*=(?!=)
    |(?P<dq>"(?:[^"\\\n]|\\(?:\r\n|.|\n))*+")
    |(?P<sq>'(?:[^'\\\n]|\\(?:\r\n|.|\n))*+')
    |(?P<long>\[(?P<leq>=*)\[.*?\](?P=leq)\])
    |(?P<open>\{)|(?P<close>\})|(?P<sep>[,;])|(?P<bracket>\[)|(?P<punct>[\]=])
    |(?P<word>-?[^\s{}\[\]=,;"'-][^\s{}\[\]=,;"']*)
    |(?P<end>\Z))"""
# A table with no table, bracket nor comment inside (`{"bg", file="a", x=-230}`, `{"rt2"}`):
# most of a script. Taken whole, its members read only when asked for (`Table`).
_FLAT_TABLE = r"""(?P<flat>\{(?:[^{}"'\[\]\-]++|-(?!-)
    |"(?:[^"\\\n]|\\(?:\r\n|.|\n))*+"|'(?:[^'\\\n]|\\(?:\r\n|.|\n))*+')*+\})"""
_TOKEN = re.compile(f"{_BLANKS_BEFORE}(?:{_FLAT_TABLE}|{_ONE_TOKEN})", re.S | re.X)
_TOKEN_IN_FLAT = re.compile(f"{_BLANKS_BEFORE}{_ONE_TOKEN}", re.S | re.X)
_BLANKS = re.compile(_BLANKS_BEFORE, re.S)
# A flat table's first member, when it is a plain string: its tag, read without the rest.
_PLAIN_TAG = re.compile(r'\{\s*"([^"\\\n]*)"\s*[,;}]')
# Lua's escapes; a run of byte escapes (`\228\186\154`, `\xE4…`) is the UTF-8 bytes of
# one character or several.
_ESCAPE = re.compile(
    r"((?:\\(?:\d{1,3}|x[0-9a-fA-F]{2}))+)|\\(?:u\{([0-9a-fA-F]{1,6})\}|z\s*|(\r\n|.|\n))",
    re.S,
)
_BYTE_ESCAPE = re.compile(r"\\(?:(\d{1,3})|x([0-9a-fA-F]{2}))")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "v": "\v", "b": "\b", "f": "\f", "a": "\a"}
_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)")
# Members of a `text` table that are no language: voices (`vo`, `vl01`, `lv1`) and names.
_NOT_A_LANGUAGE = re.compile(r"vo|vl\d+|lv\d+|name")
# The tags in a box that end one of its shown lines.
_LINE_ENDS = frozenset({"rt2", "ret2"})
# A name shown while the speaker's is not known yet: only question marks (and blanks).
_UNKNOWN_NAME = re.compile(r"[?？\s]+")
# A name slot that is the engine's id of a character (`internal_kan`): lower-case ASCII,
# as no name a box shows is written.
_INTERNAL_ID = re.compile(r"[a-z][a-z0-9_]*")


class Table:
    """A Lua table: its positional members (`items`) and its `key = value` ones (`fields`),
    in file order; `at` is the offset of its `{`. A flat table's members are read the
    first time they are asked for: most are commands no one asks about."""

    __slots__ = ("_fields", "_items", "_unread", "at")

    def __init__(self, at: int, unread: _Reader | None = None) -> None:
        self.at = at
        self._items: list[object] = []
        self._fields: dict[str, object] = {}
        self._unread = unread  # the reader of its file, while its members are unread

    @property
    def items(self) -> list[object]:
        if self._unread is not None:
            self._read()
        return self._items

    @property
    def fields(self) -> dict[str, object]:
        if self._unread is not None:
            self._read()
        return self._fields

    def _read(self) -> None:
        reader, self._unread = self._unread, None
        assert reader is not None
        whole = reader.table_at(self.at)
        self._items, self._fields = whole.items, whole.fields

    def tag(self) -> str | None:
        """`{"rt2"}`, `{"bg", file=…}`: a command's name, its first member."""
        if self._unread is not None and (plain := _PLAIN_TAG.match(self._unread.text, self.at)):
            return plain[1]
        first = self.items[0] if self.items else None
        return first if isinstance(first, str) else None


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    return list(_Scene(text, source, options).read(read_tables(text, source)))


def read_tables(text: str, source: str) -> dict[str, object]:
    """The file's top-level assignments (`astver`, `astname`, `ast`), read as Lua reads
    them; DataprepError, naming the line, where the file is no such table."""
    return _Reader(text, source).statements()


class _Reader:
    """Reads the Lua subset Artemis writes in one pass over its tokens, the tables being
    filled kept on a stack (a loop, not a call a token: a game's scripts hold millions)."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def _fail(self, at: int, why: str) -> NoReturn:
        line = self.text.count("\n", 0, at) + 1
        raise DataprepError(
            f"{self.source}: line {line}: {why}, so it cannot be read as an Artemis script"
            " (.ast, a Lua table)."
        )

    def _stray(self, at: int) -> NoReturn:
        """Fail where no token starts: a quote never closed, or a character of none."""
        at = _BLANKS.match(self.text, at).end()  # type: ignore[union-attr]
        if self.text[at] in "\"'[":
            self._fail(at, "a string opened here is never closed")
        if self.text.startswith("--", at):
            self._fail(at, "a comment opened here is never closed")
        self._fail(at, f"{self.text[at]!r} is no part of a Lua table")

    def statements(self) -> dict[str, object]:
        """The file's top-level assignments."""
        top = self._read(_TOKEN, 0, one_table=False)
        assert isinstance(top, dict)
        return top

    def table_at(self, at: int) -> Table:
        """The table whose `{` is at `at`, its members read (a flat one's)."""
        table = self._read(_TOKEN_IN_FLAT, at, one_table=True)
        assert isinstance(table, Table)
        return table

    def _read(self, tokens: re.Pattern[str], at: int, one_table: bool) -> dict[str, object] | Table:
        """From `at`: the one table there, or the top-level assignments to the end."""
        top: dict[str, object] = {}
        # The tables open, innermost last, each with the key it will be put under.
        stack: list[tuple[Table, str | None]] = []
        key: str | None = None  # the key the next value is put under
        bracket = 0  # in `[key] =`: 1 before the key, 2 before `]`, 3 before `=`
        text, match = self.text, tokens.match
        while True:
            # Anchored at `at`, not searched for from it: a failure stops here at once.
            m = match(text, at)
            if m is None:
                self._stray(at)
            at = m.end()
            kind = m.lastgroup or ""
            start = m.start(kind)
            if bracket > 1:
                expected = "]" if bracket == 2 else "="
                if kind != "punct" or m[kind] != expected:
                    self._fail(start, f"{expected!r} was expected after a [key]")
                bracket = 0 if bracket == 3 else 3
                continue
            if kind == "key" and not bracket:
                if key is not None:
                    self._fail(start, f"a value was expected where {_shown(m[kind])} is")
                key = m[kind]
                continue
            if kind == "sep" and key is None and not bracket and stack:
                continue
            if kind == "bracket" and key is None and not bracket and stack:
                bracket = 1
                continue
            if kind == "open" and not bracket:
                if not stack and key is None and not one_table:
                    self._fail(start, "a name (`ast = {…}`) was expected where '{' is")
                stack.append((Table(start), key))
                key = None
                continue
            value: object
            if kind == "close" and key is None and not bracket and stack:
                value, key = stack.pop()
                if one_table and not stack:
                    return value
            elif kind == "flat" and not bracket and (stack or key is not None):
                value = Table(start, self)
            elif kind == "end":
                if stack:
                    self._fail(stack[-1][0].at, "a table opened here is never closed")
                if key is not None or bracket:
                    self._fail(start, "the file ends where a value was expected")
                return top
            else:
                value = self._scalar(kind, m[kind], start, stack, key)
            if bracket:
                key, bracket = _key(value), 2
            elif not stack:
                top[key or ""] = value
                key = None
            elif key is None:
                stack[-1][0].items.append(value)
            else:
                stack[-1][0].fields[key] = value
                key = None

    def _scalar(
        self,
        kind: str,
        raw: str,
        start: int,
        stack: list[tuple[Table, str | None]],
        key: str | None,
    ) -> object:
        """A string, number, nil or boolean token's value; one that is none fails here."""
        if not stack and key is None:
            self._fail(start, f"a name (`ast = {{…}}`) was expected where {_shown(raw)} is")
        if kind == "dq" or kind == "sq":
            return _unescape(raw[1:-1])
        if kind == "long":
            return _long_string(raw)
        if kind == "word":
            if raw == "nil":
                return None
            if raw in ("true", "false"):
                return raw == "true"
            if _NUMBER.fullmatch(raw):
                return float(raw) if "." in raw or "e" in raw.lower() else int(raw, 0)
        self._fail(start, f"a value was expected where {_shown(raw)} is")


def _shown(raw: str) -> str:
    """A token as a message quotes it: a long one (a whole table) cut short."""
    return repr(raw if len(raw) <= 24 else raw[:20] + "…")


def _key(value: object) -> str:
    """A bracketed key as the fields of a `Table` hold it: `[1000]` → "1000"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unescape(body: str) -> str:
    """A quoted string's contents with Lua's escapes (`\\n`, `\\"`, `\\ddd`, `\\xXX`,
    `\\u{XXX}`, `\\z`) read; an escape Lua does not know keeps its character, as
    patched releases write them (`\\我`)."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_escaped, body)


def _escaped(m: re.Match[str]) -> str:
    run, code, other = m.groups()
    if run is not None:
        data = bytes(
            int(decimal) & 0xFF if decimal else int(hexadecimal, 16)
            for decimal, hexadecimal in _BYTE_ESCAPE.findall(run)
        )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if code is not None:
        return chr(min(int(code, 16), 0x10FFFF))
    if other is None:  # \z: the blanks after it are skipped
        return ""
    if other in ("\n", "\r\n"):
        return "\n"
    return _SIMPLE_ESCAPES.get(other, other)


def _long_string(raw: str) -> str:
    """`[[…]]` / `[==[…]==]`: its contents as written, a first line break left out."""
    level = raw.index("[", 1) + 1
    body = raw[level:-level]
    return body[1:] if body.startswith("\n") else body


@dataclass(slots=True)
class _Box:
    names: list[str]
    words: str
    at: int


@dataclass(slots=True)
class _Block:
    title: str | None
    # Each language's boxes (its name → boxes).
    boxes: dict[str, list[Table]]
    has_select: bool
    # Each language's tables whose `name` a box without one shows (the older layout's).
    name_holders: dict[str, tuple[Table, ...]] = field(default_factory=dict)
    # The `ch` of each of its voices (`vo = {{"vo", file=…, ch="atr"}}`).
    voices: tuple[str, ...] = ()


class _Scene:
    """Walks the `ast` table's blocks and says their boxes as utterances."""

    def __init__(self, text: str, source: str, options: ParseOptions) -> None:
        self.text = text
        self.source = source
        self.options = options

    def read(self, top: dict[str, object]) -> Iterator[Utterance]:
        ast = top.get("ast")
        if not isinstance(ast, Table):
            raise DataprepError(
                f"{self.source}: has no `ast = {{…}}` table, so it is no Artemis script"
                " (.ast) this reader knows."
            )
        # In file order, keyed (`block_00000 = {…}`) or not.
        tables = [b for b in (*ast.fields.values(), *ast.items) if isinstance(b, Table)]
        tables.sort(key=lambda t: t.at)
        blocks = [self._block(b) for b in tables]
        older = ast.fields.get("text")
        if not any(b.boxes for b in blocks) and isinstance(older, Table):
            blocks = self._older_blocks([t for t in tables if t is not older], older)
            if not any(b.boxes for b in blocks):
                raise DataprepError(
                    f"{self.source}: keeps its text in one table outside its blocks, an"
                    " older Artemis layout, but none of it in a shape this reader knows:"
                    " export its text to JSON with VNTextPatch (VNTextPatch extractlocal"
                    " <scripts> <json folder>) and give the .json files, which read as json."
                )
        language = self._language(blocks)
        if language is None:
            return
        newlines = _LineCounter(self.text)
        title: str | None = None
        scene = branch = 0
        for block in blocks:
            if block.title is not None and block.title != title:
                if title is not None:
                    scene += 1
                title = block.title
            holders = block.name_holders.get(language, ())
            tables = block.boxes.get(language, [])
            for table in tables:
                box = _box(table, language, holders)
                if not box.words:
                    continue
                speaker = self._speaker(box.names)
                if speaker is None and len(tables) == 1 and len(block.voices) == 1:
                    # A game that shows no names (a Narcissu port's) says who speaks only
                    # by the voice's `ch`: hers when that id is one of the aliases.
                    speaker = self._alias_among(list(block.voices))
                yield Utterance(
                    speaker,
                    box.words,
                    self.source,
                    newlines.line(box.at),
                    str(scene),
                    branch=branch,
                    shown=True,
                )
            if block.has_select:
                branch += 1

    def _block(self, block: Table) -> _Block:
        boxes: dict[str, list[Table]] = {}
        text = block.fields.get("text")
        if isinstance(text, Table):
            for name, value in text.fields.items():
                if isinstance(value, Table) and not _NOT_A_LANGUAGE.fullmatch(name):
                    boxes[name] = _boxes_in(value)
        return _Block(
            _title(block),
            boxes,
            isinstance(block.fields.get("select"), Table),
            voices=_voices(text) if isinstance(text, Table) else (),
        )

    def _older_blocks(self, tables: list[Table], text: Table) -> list[_Block]:
        """The older layout (module docstring): each block holding a `{"text"}` or
        `{"select"}` command shows the next entry of the one `text` table."""
        entries = sorted(
            (e for e in (*text.fields.values(), *text.items) if isinstance(e, Table)),
            key=lambda e: e.at,
        )
        blocks: list[_Block] = []
        taken = 0
        for table in tables:
            shows = any(
                isinstance(item, Table) and item.tag() in ("text", "select") for item in table.items
            )
            if shows and taken < len(entries):
                blocks.append(_entry_block(entries[taken], _title(table)))
                taken += 1
            else:
                blocks.append(_Block(_title(table), {}, has_select=False))
        # Entries no block names (a count that differs) are still said, in order.
        return blocks + [_entry_block(entry, None) for entry in entries[taken:]]

    def _language(self, blocks: list[_Block]) -> str | None:
        """The language read (module docstring); None where no block has text."""
        languages: list[str] = []
        for block in blocks:
            languages += [name for name in block.boxes if name not in languages]
        if not languages:
            return None
        chosen = self.options.artemis_language
        if languages == [""]:  # the older layout's boxes under no language: read whatever asked
            return ""
        if chosen is not None:
            if chosen not in languages:
                raise DataprepError(
                    f'{self.source}: has no "{chosen}" text ([dataprep] artemis_language);'
                    f" its languages are {', '.join(languages)}: set it to one of them"
                    ' or to "auto".'
                )
            return chosen
        spoken: Counter[str] = Counter()
        for block in blocks:
            for name, boxes in block.boxes.items():
                holders = block.name_holders.get(name, ())
                spoken[name] += sum(
                    1 for box in boxes if self._alias_among(_names(box, name, holders)) is not None
                )
        most = max(spoken[name] for name in languages)
        tied = [name for name in languages if spoken[name] == most]
        card = self.options.card_language
        if len(tied) > 1 and card:
            # The aliases name the speakers in each language (ATRI's own list holds アトリ,
            # 亚托莉 and Atri): the text the card speaks, as the samples' system prompt does.
            written = {name: _written_in(blocks, name) for name in tied}
            return next((name for name in tied if written[name] == card), tied[0])
        return tied[0]

    def _alias_among(self, names: list[str]) -> str | None:
        convert = self.options.convert_name
        for name in names:
            key = normalise_name(convert(name) if convert else name)
            if key in self.options.speaker_aliases:
                return name
        return None

    def _speaker(self, names: list[str]) -> str | None:
        names = [tidy_name(n) for n in names if n.strip()]
        if not names:
            return None
        alias = self._alias_among(names)
        if alias is not None:
            return alias
        # `{"internal_kan", "花"}`: the engine's id of a character is never the name shown.
        names = [n for n in names if not _INTERNAL_ID.fullmatch(n)] or names
        return next((n for n in names if not _UNKNOWN_NAME.fullmatch(n)), names[0])


def _written_in(blocks: list[_Block], language: str) -> str:
    """The language code ("ja", "zh", "en" …) the boxes of text table `language` are
    written in, from their first few thousand characters; "" when they say too little."""
    sample: list[str] = []
    size = 0
    for box in (box for block in blocks for box in block.boxes.get(language, ())):
        sample.append(_box(box, language).words)
        size += len(sample[-1])
        if size >= SAMPLE_CHARS:
            break
    return LANGUAGE_CODES.get(sample_language("\n".join(sample)), "")


def _title(block: Table) -> str | None:
    """The title a block's last `{"savetitle", text=…}` gives, if any."""
    title = None
    for item in block.items:
        if isinstance(item, Table) and item.tag() == "savetitle":
            said = item.fields.get("text")
            if isinstance(said, str) and said.strip():
                title = said.strip()
    return title


def _boxes_in(table: Table) -> list[Table]:
    """A language's boxes: its tables, or the table itself where it holds words
    (`ja = {"「…", {"rt2"}}`, one box)."""
    if any(isinstance(item, str) for item in table.items):
        return [table]
    return [box for box in table.items if isinstance(box, Table)]


def _entry_block(entry: Table, title: str | None) -> _Block:
    """One entry of the older layout's `text` table: `{name = …, vo = …, ja = {…}}`, its
    name beside the language's boxes or inside their table; or, with no language,
    `{name = {name = "…"}, {"「…」"}}`; or `{select = …}`."""
    boxes: dict[str, list[Table]] = {}
    holders: dict[str, tuple[Table, ...]] = {}
    for name, value in entry.fields.items():
        if isinstance(value, Table) and name != "select" and not _NOT_A_LANGUAGE.fullmatch(name):
            boxes[name] = _boxes_in(value)
            holders[name] = (value, entry)
    if not boxes and (own := _boxes_in(entry)):
        boxes[""], holders[""] = own, (entry,)
    return _Block(
        title, boxes, isinstance(entry.fields.get("select"), Table), holders, _voices(entry)
    )


def _voices(table: Table) -> tuple[str, ...]:
    """The `ch` of each voice in `table.vo`."""
    vo = table.fields.get("vo")
    if not isinstance(vo, Table):
        return ()
    chs = (v.fields.get("ch") for v in vo.items if isinstance(v, Table) and v.tag() == "vo")
    return tuple(ch for ch in chs if isinstance(ch, str))


def _names(box: Table, language: str, holders: tuple[Table, ...] = ()) -> list[str]:
    """The names a box shows for its speaker, in order (module docstring); a box with
    none shows the name of the first of `holders` that has one."""
    for table in (box, *holders):
        if names := _names_of(table, language):
            return names
    return []


def _names_of(box: Table, language: str) -> list[str]:
    name = box.fields.get("name")
    if isinstance(name, str):
        return [name]
    if not isinstance(name, Table):
        return []
    keyed = name.fields.get(language, name.fields.get("name"))
    if isinstance(keyed, str):
        return [keyed]
    # `{"name", name="…"}` (the older layout's) is a command whose tag is no name.
    slots = name.items[1:] if name.tag() == "name" else name.items
    return [n for n in slots if isinstance(n, str)]


def _box(box: Table, language: str, holders: tuple[Table, ...] = ()) -> _Box:
    lines: list[str] = []
    line: list[str] = []
    for item in box.items:
        if isinstance(item, str):
            *ended, rest = item.split("\n")
            for piece in ended:
                line.append(piece)
                lines.append("".join(line))
                line = []
            line.append(rest)
        elif isinstance(item, Table) and item.tag() in _LINE_ENDS:
            lines.append("".join(line))
            line = []
    lines.append("".join(line))
    return _Box(_names(box, language, holders), join_pieces(lines), box.at)


class _LineCounter:
    """Line numbers of offsets asked for in increasing order, counted once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.number = 1

    def line(self, at: int) -> int:
        if at < self.at:  # never: boxes are read in file order
            self.at, self.number = 0, 1
        self.number += self.text.count("\n", self.at, at)
        self.at = at
        return self.number

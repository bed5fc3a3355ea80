"""Spreadsheet exports of a game's text (.csv / .tsv), as fan translators and their tools
write them: one row a line, in columns a first row names.

    ID,Speaker,Original,Translation
    L1,アトリ,「おはようございます」,「早上好」
    L2,,朝の光が差し込む。,晨光照了进来。

A column is known by its name, in English, Chinese or Japanese (`_COLUMN_NAMES`): the
speaker's (name, speaker, character, 角色, 名前, 人物, 说话人 …), the text's (text,
message, line, 台词, 本文, セリフ …), the original's and the translation's (original,
translation, 原文, 译文 …), and a scene's (scene, file, label …: where its value changes a
new scene starts). Where a table holds both the original and the translation,
[dataprep] dump_side chooses, as for a translation dump: a row whose chosen side is empty
is read from the other side and kept as a line said but unusable (`Utterance.dropped`
"untranslated" or "no_original"), and so is a translation that copies the original
(the same text, with a letter in it: `「……」` in both is no copy). A table without a
speaker column is read as a plain dump's lines are (`名字「台词」` in its text cells).

A file whose first row names no text column is read as a table without a header when it
has two columns (`名字,「台词」`) or three (`id,name,text`), or one (plain lines); with
more the run says which columns it saw and what to rename. An empty speaker is
narration; a cell's line breaks are where the text box wrapped, and so is a `\\n` written
in it (a translation tool's escape; not RPG Maker's `\\n[1]` nor `\\n<Name>`); a row whose
first cell starts with `#` is a comment, and the rows below YukaTool's `#Names` (to its
`#Lines`) are a table of the speakers' names, no lines: a speaker the speaker column names
as the original does (`アトリ`) is named as the side read shows her there (`亚托莉`). The
delimiter is a tab for .tsv, else sniffed among `,`, `;` and tab. A quote mark never
closed costs its own line (UNCLOSED_STRING), not the rows below it (`_rows`). A row with
more cells than the header names is a text cut at a delimiter not in quotes (`1,000`):
its extra cells are joined back into the text when that is the last column, else it is
read as split; the run says how many rows were either (`wide_rows_note`).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

from dataprep.errors import DataprepError
from dataprep.formats.common import UNCLOSED_STRING, ParseOptions, join_pieces, tidy_name
from dataprep.formats.plain import parse as parse_plain
from dataprep.formats.translation_dump import MISSING, ORIGINAL, TRANSLATION
from dataprep.records import Utterance

SUFFIXES = frozenset({".csv", ".tsv"})

ID, SPEAKER, TEXT, SCENE = "id", "speaker", "text", "scene"
CONTENT = "content"  # a text column by a name that may be a description's
# Column names by role, checked in this order (`Line ID` is an id, `Original Text` the
# original, `File Name` a scene). Latin names match a whole word of the header cell,
# CJK ones anywhere in it (`台词内容`, `キャラ名`).
_COLUMN_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ID, ("id", "index", "idx", "no", "number", "num", "key", "timestamp", "time", "编号",
          "序号", "番号", "行号")),
    (TRANSLATION, ("translation", "translated", "target", "dst", "english", "chinese", "zh",
                   "cn", "译文", "譯文", "翻译", "翻譯", "訳文", "翻訳", "中文")),
    (ORIGINAL, ("original", "source", "src", "japanese", "jp", "ja", "raw", "原文", "日文",
                "日本語")),
    (SCENE, ("scene", "file", "filename", "label", "chapter", "script", "场景", "場景", "场次",
             "場次", "章节", "章節", "文件", "シーン", "ファイル", "ラベル")),
    (SPEAKER, ("name", "speaker", "character", "chara", "char", "actor", "who", "角色",
               "名前", "人物", "说话人", "說話人", "名字", "姓名", "话者", "話者", "キャラ",
               "发言人")),
    (TEXT, ("text", "line", "dialogue", "dialog", "台词", "台詞", "本文", "セリフ", "せりふ",
            "对白", "對白", "对话", "對話")),
    # Names that may be the text's, or a description's beside it (`画面内容` in a
    # storyboard beside its `台词`): the text's only where no column is named as above.
    (CONTENT, ("message", "msg", "content", "文本", "内容")),
)  # fmt: skip
# The names a text's column goes by, those surely the text's first: a JSON message's
# text is under one of them too (message_json).
TEXT_NAMES = tuple(n for role, names in _COLUMN_NAMES if role in (TEXT, CONTENT) for n in names)
_WORDS = re.compile(r"[a-z]+")
# How much of the file the delimiter is sniffed from. csv.Sniffer's quote patterns take
# time growing with the square of this on lines of lone quotes (16 KiB of `'` lines took
# 5 s; 4 KiB takes 0.35 s), and a few dozen rows tell a delimiter.
_SNIFF_CHARS = 4 * 1024
_DELIMITERS = ",;\t"
# Fewer rows than this are too few to tell a scene column from one naming each line.
_MIN_ROWS_FOR_SCENES = 4
# How many cells of an unknown first row the run names.
_NAMED = 8
# A comment row that heads a table of names (YukaTool's `#Names`, `#Names:`): the rows
# below it, to the next comment row (`#Lines`), name speakers and say nothing.
_NAMES_HEADING = re.compile(r"#\s*names?\s*:?\s*", re.IGNORECASE)
# A line break as a translation tool escapes it in a cell (`\n`, `\r\n`), not RPG
# Maker's `\n[1]` (an actor's name) nor `\n<Name>` (a name box), nor an escaped `\\n`.
_ESCAPED_BREAK = re.compile(r"(?<!\\)\\(?:r\\n|n(?![\[<]))")


@dataclass(frozen=True, slots=True)
class _Columns:
    """Which column (its index) holds what; None where the table has none."""

    speaker: int | None
    chosen: int  # the text of the side read
    other: int | None  # the other side's text, read where the chosen one is empty
    scene: int | None
    width: int  # how many columns the header names (or most rows fill, without one)

    @property
    def text_last(self) -> bool:
        """Whether the one text column is the last: a row's cells past the header's are
        then that text cut at a delimiter, and no other column's."""
        return self.other is None and self.chosen == self.width - 1


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    table = _rows(text.removeprefix("\ufeff"), source)
    if not table.rows:
        return []
    columns, body = _columns(table.rows, source, options.dump_side)
    if columns.text_last:
        for i in _wide_rows(body, columns):
            line, cells = body[i]
            body[i] = line, _joined(cells, columns.width, table.delimiter)
    speakers = _names_shown(table.names, columns)
    said = _utterances(body, columns, source, options, speakers)
    if table.unclosed:
        for utterance in said:
            if utterance.line in table.unclosed:
                utterance.dropped = UNCLOSED_STRING
    return said


# A quoted cell holding this many line breaks is a quote mark never closed (`"Well...`
# at a cell's start), which took every row below it up to the next quote mark into one
# cell: a text box wraps into three or four lines.
_RUNAWAY_BREAKS = 10


@dataclass
class _Table:
    """The rows of a file that are not blank nor comments nor names, each with the file
    line where it starts; the rows of its table of names; the lines whose quoted cell
    is never closed, each read as a row of its own without quoting (and left out)."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    names: list[list[str]] = field(default_factory=list)
    unclosed: set[int] = field(default_factory=set)
    in_names: bool = False  # in a table of names, below `#Names`
    delimiter: str = ","


def _rows(text: str, source: str) -> _Table:
    """The file's rows (`_Table`). A row whose quoted cell runs away (`_RUNAWAY_BREAKS`,
    or past csv's field size limit) is read again as its line alone, and the rows are
    read on from the line below it: the rest of the file was one cell, dropped as too
    long, and past 128 KiB the whole file was refused."""
    delimiter = _delimiter(text, source)
    table = _Table(delimiter=delimiter)
    at, line = 0, 1  # where the rows not read yet start: offset in `text`, file line
    while (
        runaway := _read_rows(text[at:] if at else text, line, delimiter, table, source)
    ) is not None:
        for _ in range(runaway - line + 1):  # past the runaway row's first line
            end = text.find("\n", at)
            at = len(text) if end < 0 else end + 1
        alone = text[text.rfind("\n", 0, at - 1) + 1 : at].rstrip("\r\n")
        cells = next(csv.reader([alone], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
        table.rows.append((runaway, cells))
        table.unclosed.add(runaway)
        line = runaway + 1
        if at >= len(text):
            break
    return table


def _read_rows(text: str, first: int, delimiter: str, table: _Table, source: str) -> int | None:
    """Read the rows of `text` (which starts at file line `first`) into `table`; the line
    of a row whose quoted cell runs away, where reading stopped, or None at the end."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    start = first
    try:
        for cells in reader:
            if any(cell.count("\n") >= _RUNAWAY_BREAKS for cell in cells):
                return start
            first_cell = cells[0].strip() if cells else ""
            if first_cell.startswith("#"):
                table.in_names = _NAMES_HEADING.fullmatch(first_cell) is not None
            elif table.in_names:
                table.names.append(cells)
            elif any(cell.strip() for cell in cells):
                table.rows.append((start, cells))
            start = first + reader.line_num
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            return start
        raise DataprepError(f"{source}: is no readable table ({exc}, near line {start}).") from None
    return None


def _names_shown(names: list[list[str]], columns: _Columns) -> dict[str, str]:
    """Each speaker's name as the side read shows it, from a table of names (YukaTool's
    rows below `#Names`: a name in the original, and translated): the speaker column
    names them as the original does (`アトリ` for 亚托莉)."""
    shown: dict[str, str] = {}
    for cells in names:
        written, chosen = _cell(cells, columns.other), _cell(cells, columns.chosen)
        if written and chosen:
            shown[tidy_name(written)] = tidy_name(chosen)
    return shown


def _delimiter(text: str, source: str) -> str:
    """A tab for a .tsv file; else what the head of the file is delimited by."""
    if PurePath(source).suffix.lower() == ".tsv":
        return "\t"
    head = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in head:
        head = head[: head.rindex("\n")]
    try:
        return csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # Too few rows to sniff: the delimiter most lines hold.
        lines = [line for line in head.splitlines() if line.strip()][:50]
        return max(_DELIMITERS, key=lambda d: (sum(d in line for line in lines), d == ","))


def _role(cell: str) -> str | None:
    """What a header cell names, or None."""
    name = cell.strip().lower()
    words = set(_WORDS.findall(name)) | {name.replace(" ", "").replace("_", "")}
    for role, names in _COLUMN_NAMES:
        for known in names:
            if (known in name) if not known.isascii() else (known in words):
                return role
    return None


def _columns(
    rows: list[tuple[int, list[str]]], source: str, side: str
) -> tuple[_Columns, list[tuple[int, list[str]]]]:
    """The table's columns, and its rows below the header (all of them without one)."""
    header = rows[0][1]
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        role = _role(cell)
        if role is not None:
            found.setdefault(role, index)
    if CONTENT in found:
        found.setdefault(TEXT, found.pop(CONTENT))
    said = [found[r] for r in (TRANSLATION, ORIGINAL, TEXT) if r in found]
    if said:
        original = found.get(ORIGINAL, found.get(TEXT))
        translation = found.get(TRANSLATION)
        chosen, other = (original, translation) if side == ORIGINAL else (translation, original)
        if chosen is None:
            chosen, other = other, None
        assert chosen is not None  # one of them is, `said` holds it
        width = len(_trimmed(header))
        return _Columns(found.get(SPEAKER), chosen, other, found.get(SCENE), width), rows[1:]
    return _headerless(rows, header, source), rows


def _headerless(rows: list[tuple[int, list[str]]], header: list[str], source: str) -> _Columns:
    """`名字,「台词」` or `id,name,text`: told by how many columns most rows fill."""
    widths = Counter(len(_trimmed(cells)) for _, cells in rows[:200])
    width = widths.most_common(1)[0][0]
    if width == 1:
        return _Columns(None, 0, None, None, 1)  # a column of lines, read as plain ones
    if width == 2:
        return _Columns(0, 1, None, None, 2)
    if width == 3:
        return _Columns(1, 2, None, None, 3)
    seen = ", ".join(f'"{cell.strip()}"' for cell in header[:_NAMED] if cell.strip())
    if len(header) > _NAMED:
        seen += f" and {len(header) - _NAMED} more"
    raise DataprepError(
        f"{source}: is a table whose text column cannot be told; its first row has {seen}:"
        ' name the columns in a first row, "name" (or speaker, 角色, 名前) for the speaker'
        ' and "text" (or original/translation, 原文/译文, セリフ) for what is said.'
    )


def _wide_rows(rows: list[tuple[int, list[str]]], columns: _Columns) -> list[int]:
    """The rows (their indices) holding more cells than the header names, blank ones at
    the end aside; none when most rows do: those are columns the header leaves unnamed."""
    wide = [
        i
        for i, (_, cells) in enumerate(rows)
        if len(cells) > columns.width and len(_trimmed(cells)) > columns.width
    ]
    return [] if len(wide) * 2 > len(rows) else wide


def _joined(cells: list[str], width: int, delimiter: str) -> list[str]:
    """The row's cells with those past the header's last column joined back into it, as
    the text was before a delimiter not in quotes cut it (`一共1,000日元`)."""
    return [*cells[: width - 1], delimiter.join(_trimmed(cells)[width - 1 :])]


# Tables named in a note on their wide rows; the rest are counted.
_TABLES_NAMED = 3


def wide_rows_note(files: list[tuple[str, str]], options: ParseOptions) -> list[str]:
    """A sentence on the tables (name, text) with rows of more cells than their header
    names, naming them: one where the extra cells were joined back into the text (the
    last column), one where they could not be, the text not being the last column."""
    joined: list[tuple[str, list[int]]] = []
    split: list[tuple[str, list[int]]] = []
    for name, text in files:
        if not _may_have_wide_rows(text, name):
            continue
        try:
            table = _rows(text.removeprefix("\ufeff"), name)
            if not table.rows:
                continue
            columns, body = _columns(table.rows, name, options.dump_side)
        except DataprepError:
            continue  # the file's own error is reported where it is parsed
        lines = [body[i][0] for i in _wide_rows(body, columns)]
        if lines:
            (joined if columns.text_last else split).append((name, lines))
    said = []
    if joined:
        said.append(
            f"{_rows_in(joined)} held more cells than the header names, a text cut at a"
            " delimiter not in quotes (`1,000`): the extra cells were joined back into the"
            " text, the last column."
        )
    if split:
        said.append(
            f"{_rows_in(split)} held more cells than the header names (a delimiter not in"
            " quotes), and the text is not the last column, so where it was cut cannot be"
            " told: they were read as split; put quotes around those cells."
        )
    return said


def _may_have_wide_rows(text: str, source: str) -> bool:
    """Whether a line of the table holds more delimiters than most: without one, no row
    holds more cells than the header (the table is not read again for the note). A
    delimiter in quotes only makes this say yes."""
    delimiter = _delimiter(text, source)
    counts = Counter(line.count(delimiter) for line in text.splitlines() if line.strip())
    return len(counts) > 1 and max(counts) > counts.most_common(1)[0][0]


def _rows_in(tables: list[tuple[str, list[int]]]) -> str:
    """`4 rows in a.csv (lines 3, 9, 12 and 1 more), b.csv (line 2)`: the first
    `_TABLES_NAMED` tables named, the rest counted."""
    rows = sum(len(lines) for _, lines in tables)
    named = ", ".join(
        f"{name} (line{'s' if len(lines) > 1 else ''} {_lines(lines)})"
        for name, lines in tables[:_TABLES_NAMED]
    )
    more = len(tables) - _TABLES_NAMED
    if more > 0:
        named += f" and {more} more table{'s' if more != 1 else ''}"
    return f"{rows} row{'s' if rows != 1 else ''} in {named}"


def _lines(lines: list[int]) -> str:
    """The first few line numbers, and how many more."""
    shown = ", ".join(map(str, lines[:3]))
    return shown + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")


def _trimmed(cells: list[str]) -> list[str]:
    """The cells up to the last one that is not blank (a spreadsheet's empty columns)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _cell(cells: list[str], index: int | None) -> str:
    """A cell as one line (its line breaks, and the `\\n`s a tool wrote for them, are
    where the text box wrapped); "" if absent."""
    if index is None or index >= len(cells):
        return ""
    value = cells[index]
    if "\\" in value:
        value = _ESCAPED_BREAK.sub("\n", value)
    if "\n" not in value and "\r" not in value:
        return value.strip()
    return join_pieces(value.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _said(cells: list[str], columns: _Columns, side: str) -> tuple[str, str | None]:
    """What a row says on the chosen side, and why it is unusable (None if it is usable):
    where the chosen side is empty, or is a translation that copies the original, the
    other side's text, dropped."""
    said = _cell(cells, columns.chosen)
    if columns.other is None:
        return said, None
    if said:
        copied = side == TRANSLATION and said == _cell(cells, columns.other)
        return said, MISSING[side] if copied and _has_letter(said) else None
    other = _cell(cells, columns.other)
    return other, MISSING[side] if other else None


def _has_letter(text: str) -> bool:
    """Whether a text holds a letter of any script (`「……」` and `!?` hold none)."""
    return any(c.isalpha() for c in text)


def _utterances(
    rows: list[tuple[int, list[str]]],
    columns: _Columns,
    source: str,
    options: ParseOptions,
    speakers: dict[str, str],
) -> list[Utterance]:
    """The rows' lines; `speakers`: a speaker's name as the side read shows it."""
    if columns.speaker is None:
        return _as_plain(rows, columns, source, options)
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = 0
    for (line, cells), changed in zip(rows, _scene_changes(rows, columns), strict=True):
        scene += changed
        said, dropped = _said(cells, columns, options.dump_side)
        if not said:
            continue
        speaker = tidy_name(_cell(cells, columns.speaker)) or None
        speaker = speakers.get(speaker, speaker) if speaker is not None else None
        if speaker is None and marker is not None and marker(said):
            scene += 1
            continue
        out.append(Utterance(speaker, said, source, line, str(scene), dropped=dropped))
    return out


def _scene_changes(rows: list[tuple[int, list[str]]], columns: _Columns) -> list[bool]:
    """For each row, whether it starts a scene: the scene column's value changes there.
    A column whose value changes on most rows names each line, not its scene (LiveMaker's
    `Label`, one per text block): no scenes then, or every line would be one alone."""
    values = [_cell(cells, columns.scene) for _, cells in rows]
    changes = [i > 0 and value != values[i - 1] for i, value in enumerate(values)]
    if len(rows) >= _MIN_ROWS_FOR_SCENES and sum(changes) * 2 > len(rows):
        return [False] * len(rows)
    return changes


def _as_plain(
    rows: list[tuple[int, list[str]]], columns: _Columns, source: str, options: ParseOptions
) -> list[Utterance]:
    """A table without a speaker column: its text cells read as a plain dump's lines
    (`アトリ「おはよう」`), each one line of the game, never joined to another."""
    lines: list[str] = []
    kept: list[tuple[int, int, str | None]] = []  # (file line, scene, dropped) of each
    scene = 0
    for (line, cells), changed in zip(rows, _scene_changes(rows, columns), strict=True):
        scene += changed
        said, dropped = _said(cells, columns, options.dump_side)
        if said:
            lines.append(said)
            kept.append((line, scene, dropped))
    if not lines:
        return []
    out = parse_plain("\n".join(lines) + "\n", source, options, range(1, len(lines) + 1))
    for utterance in out:
        line, scene, dropped = kept[utterance.line - 1]
        utterance.line, utterance.scene = line, f"{scene}:{utterance.scene}"
        utterance.dropped = utterance.dropped or dropped
    return out

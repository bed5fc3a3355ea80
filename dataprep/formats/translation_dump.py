"""Bilingual translation dumps: each line of the game twice, the original after `○N○`
(or `☆N☆`) and the translation after `●N●` (or `★N★`), N the same number (any padding).

    ○000012○アトリ「おはようございます、夏生さん」
    ●000012●亚托莉「早上好，夏生先生」

Fan translators work on such exports of a game's text. One side is read
([dataprep] dump_side: "translation", the ● lines, or "original", the ○ lines), and each
of its lines is read as a plain dump's line is (plain.py: `名字「台词」`, `【名字】…`,
`名字：…`, a name alone naming the quoted line below it, scene markers, commands), so
the two formats never disagree on what a speaker is. A pair that holds only a name
(`●000011●亚托莉`, then `●000012●「早上好」`) names the speaker of the next pair's quoted
line. A pair whose chosen side is missing or empty (a line not translated yet, or a
translation that is the Japanese original copied, kana and all) is kept
as a line said but unusable (`Utterance.dropped`: "untranslated", or "no_original"):
it is counted, and ends the exchange it is in, as the game still shows it there.
Lines outside the pairs (a tool's header, a comment) are no one's, and only mark a
scene when a scene marker matches them; but a line right below a marked line goes on
from it (an entry over two lines, or the text below a mark alone on its line). The
pairs start at the first marked line with more below it (not at an example line that
notes above them quote, prose below it), and the layout is told from there, whatever
the header above holds; that header's lines, such an example too, are no one's.

Other tools' layouts: `◇N◇`/`◆N◆`; numbers in hex (`☆0000000F☆`, `☆FFFFFFFF☆`) or
with a letter tag (`★nme00001★` names the speaker of `★txt00002★`, as `☆000000N☆` does
`☆000001T☆`); Siglus' name field (`☆00000010☆秀治☆「…」`); Cross Channel's stages
(`>0○N○` original, `>1●N●` translation, `>2□N□` its proofread version); the address in
brackets (`[0x00000001]原文`, `;[0x00000001]译文`, read as ○/● lines). The mark a file
writes first in a pair is its original (DLTxT's `★N★ 原文` before `☆N☆ 译文`), unless the
kana say otherwise.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from dataprep.formats.common import ParseOptions
from dataprep.formats.plain import LINE, is_quoted, name_alone
from dataprep.formats.plain import parse as parse_plain
from dataprep.gc_pause import gc_paused
from dataprep.records import UNTRANSLATED, Utterance

TRANSLATION = "translation"
ORIGINAL = "original"
# Drop reasons (in the stats) of a pair whose chosen side is missing.
MISSING = {TRANSLATION: UNTRANSLATED, ORIGINAL: "no_original"}

# The mark pairs, the original's (white) first: ○●, ☆★, ◇◆, and Cross Channel's □■.
_WHITE = "○☆◇□"
_BLACK = "●★◆■"
# The line's number between its marks: decimal or hex (SiglusTools' `☆0000000F☆`), with a
# letter tag before or after it (DLTxT's `★nme00001★` / `★txt00002★`, Bgi_asdis'
# `☆000001T☆`), a digit in it; or hex of letters alone (`☆FFFFFFFF☆`) as wide as the
# file's other numbers (8 where none says), so that a decorative `☆FIN☆` stays a line.
_DIGITFUL = r"(?=[A-Za-z]*+[0-9])[0-9A-Za-z]{1,16}+"
# The width of a file's numbers where its first lines give none (SiglusTools', SExtractor's).
_USUAL_WIDTH = 8


def _number(width: int) -> str:
    return rf"(?:{_DIGITFUL}|[A-Fa-f]{{{width}}}+)"


# `○000012○…`: a mark, the line's number, the same mark, then what is said; Cross
# Channel's .CCS puts its stage before the mark (`>0○0001○原文`, `>1●0001●译文`,
# `>2□0001□校对`). Or a bracketed address (`[0x00000001]原文`, `;[0x00000001]译文`).
MARKED = re.compile(
    rf"[^\S\n]*+(?:(?:>[0-9])?([{_WHITE}{_BLACK}])({_number(_USUAL_WIDTH)})\1|;?\[0x[0-9A-Fa-f]{{1,16}}+\])"
    r"[^\S\n]*+(.*)"
)
# The start of a marked line (after its blanks): what the format sniffing looks for past
# a file's first lines.
MARKED_START = (
    rf"(?:(?:>[0-9])?(?P<dump_mark>[{_WHITE}{_BLACK}]){_number(_USUAL_WIDTH)}(?P=dump_mark)"
    r"|;?\[0x[0-9A-Fa-f]{1,16}+\])"
)
# A cheap first test before the regex, for the format sniffing.
_MARKS = frozenset(_WHITE + _BLACK + ">;[")

# Tools that write the address in brackets, the original line, then the translation on a
# `;`-commented line with the same address (`[0x00000001]「おはよう」` then
# `;[0x00000001]「早上好」`), or the `;` line first: read as `○N○` / `●N●` pairs, the `;`
# line as the black mark, so the line written first is the original as in any dump
# (`_black_kana` deciding).
_BRACKETED = re.compile(r"^([^\S\n]*+)(;?)\[0x([0-9A-Fa-f]{1,16}+)\]", re.M)


def _marked_brackets(text: str, head: str) -> str:
    """A bracketed-address dump's lines as `○N○` / `●N●` lines (its `head` has one); any
    other text as it is."""
    if "[0x" not in head or _BRACKETED.search(head) is None:
        return text
    return _BRACKETED.sub(_to_marks, text)


def _to_marks(match: re.Match[str]) -> str:
    mark = _BLACK[0] if match.group(2) else _WHITE[0]
    return f"{match.group(1)}{mark}{match.group(3)}{mark}"


def signs(lines: list[str]) -> str | None:
    """Why these non-blank lines are a dump's, naming the layout of its marks, or None:
    most of them are marked dump lines (or the text below a mark alone on its line,
    `○00000000○` then the line, as Aquarium_tools writes)."""
    marked = bracketed = 0
    bare = False
    for line in lines:
        match = MARKED.fullmatch(line) if line.lstrip()[:1] in _MARKS else None
        if match is not None:
            marked += 1
            bracketed += match.group(1) is None
            bare = not match.group(3).strip()
        elif bare:
            marked += 1
            bare = False
    if marked * 2 <= len(lines):
        return None
    if bracketed * 2 > marked:
        return "its lines are [0x…] / ;[0x…] pairs"
    return "its lines are ○number○ / ●number● pairs"


@dataclass(slots=True)
class _Pair:
    number: str
    # Which pair of marks (○● 0, ☆★ 1…): a ☆ line is never the original of a ● line.
    family: int
    # (file line, what is said) of each side, None while it has not been read.
    original: tuple[int, str] | None = None
    translation: tuple[int, str] | None = None


# Each match is one line that is not blank, with the blank lines above it (group 1): a
# marked line's stage, mark, number and what is said, or any other line, less its leading
# blanks. Blank lines, a third of a dump, cost no step of the loop below.
@functools.cache
def _line_pattern(width: int) -> re.Pattern[str]:
    """`_LINE` for a file whose numbers are `width` wide."""
    return re.compile(
        r"((?:[^\S\n]*+\n)*+)[^\S\n]*+"
        rf"(?:(?:>([0-9]))?([{_WHITE}{_BLACK}])({_number(width)})\3[^\S\n]*+([^\n]*)|([^\n]+))\n?"
    )


# Each mark's side (the original's?) and pair of marks.
_SIDE_OF = {mark: (True, i) for i, mark in enumerate(_WHITE)} | {
    mark: (False, i) for i, mark in enumerate(_BLACK)
}


@dataclass(slots=True)
class _Read:
    """A dump's entries, and what `_entries` found out about its layout."""

    entries: list[_Pair | tuple[int, str]]
    # Its pairs give the black mark (★) first, as the original: the reverse of the
    # convention, read so (DLTxT's `★N★ 原文` / `☆N☆ 译文`).
    black_first: bool = False


def _entries(text: str, options: ParseOptions) -> _Read:
    """The pairs in file order, and the other lines that are scene markers ((line, text))."""
    start = pairs_start(text)
    marker = options.scene_marker.match if options.scene_marker else None
    # The lines above the pairs (a header, notes, an example line they quote) are no
    # one's: only a scene marker among them is kept.
    entries: list[_Pair | tuple[int, str]] = _header_markers(text[:start], marker)
    number = text.count("\n", 0, start)
    text = _marked_brackets(text[start:], text[start : start + _HEAD_CHARS])
    head = text[:_HEAD_CHARS]
    append = entries.append
    side_of = _SIDE_OF
    waiting: _Pair | None = None  # the last pair, while one of its sides is unread
    last: _Pair | None = None  # the pair of the last marked line, while lines go on below it
    last_original = False
    # Pairs made whole, and those of them whose black (●) line came first (`_Read.black_first`).
    whole = black_first = 0
    # Without the blanks that end the file, which no match takes: from each position in
    # them the pattern read on to the end before failing (quadratic in their length).
    for blank, stage, mark, index, said, other in _line_pattern(_width(head)).findall(
        text.rstrip()
    ):
        number += blank.count("\n") + 1 if blank else 1
        if not mark:
            line = other.strip()
            if marker is not None and line and marker(line):
                append((number, line))
                waiting = last = None
            elif last is not None and not blank and not line.startswith("//"):
                # A line that goes on from the marked line above it (no blank line between):
                # an entry over two lines, or the text below a mark alone on its line.
                _go_on(last, last_original, number, line)
            else:
                last = None
            continue
        side = (number, said.strip())
        is_original, family = side_of[mark]
        if stage:
            is_original = stage == "0"
            if stage > "1" and last is not None and last.number == index:
                # Cross Channel's later stage (`>2□N□`, proofread) of the line above: the
                # translation.
                if last.translation is None and last.original is not None:
                    whole += 1
                last.translation = side
                last_original = False
                continue
        if (
            waiting is not None
            and waiting.number == index
            and waiting.family == family
            and (waiting.original if is_original else waiting.translation) is None
        ):
            # The other side of the pair read last: the pair is whole.
            whole += 1
            if is_original:
                waiting.original = side
                black_first += 1
            else:
                waiting.translation = side
            last, waiting = waiting, None
        else:
            last = waiting = (
                _Pair(index, family, side) if is_original else _Pair(index, family, None, side)
            )
            append(waiting)
        last_original = is_original
    read = _Read(entries)
    if _has_name_fields(head):
        _split_name_fields(entries)
    read.black_first = black_first * 2 > whole and _black_kana(entries)
    if read.black_first:
        for entry in entries:
            if entry.__class__ is _Pair:
                pair: _Pair = entry  # type: ignore[assignment]
                pair.original, pair.translation = pair.translation, pair.original
    _name_records(entries)
    return read


def _header_markers(
    header: str, marker: Callable[[str], re.Match[str] | None] | None
) -> list[_Pair | tuple[int, str]]:
    """(line, text) of each line of the text above the pairs that a scene marker matches."""
    if marker is None or not header:
        return []
    found: list[_Pair | tuple[int, str]] = []
    for number, line in enumerate(header.split("\n"), 1):
        line = line.strip()
        if line and marker(line):
            found.append((number, line))
    return found


def _go_on(pair: _Pair, original: bool, number: int, line: str) -> None:
    """Add a line that goes on from the side of `pair` read last."""
    side = pair.original if original else pair.translation
    if side is None:
        return
    at, said = side
    if not said:
        joined, at = line, number  # a mark alone on its line: the text is below it
    elif said[-1].isascii() and line[0].isascii():
        joined = f"{said} {line}"
    else:
        joined = said + line  # Chinese and Japanese wrap lines with no space
    if original:
        pair.original = (at, joined)
    else:
        pair.translation = (at, joined)


# The longest name in a Siglus name field.
_NAME_MOST = 24
_NAME_FIELD = re.compile(
    rf"([^{_WHITE}{_BLACK}「『“\"]{{0,{_NAME_MOST}}})[{_WHITE}{_BLACK}](.*)", re.S
)


# How much of a file, from its first marked line, tells its layout: the brackets, the
# width of its numbers, whether its lines have the name field.
_HEAD_CHARS = 20_000
# A marked line, and one with Siglus' name field: `☆00000010☆秀治☆`, `☆0000000F☆☆`.
_MARKED_START = re.compile(
    rf"^[^\S\n]*+(?:>[0-9])?([{_WHITE}{_BLACK}])({_number(_USUAL_WIDTH)})\1", re.M
)
_NAME_FIELD_START = re.compile(
    rf"^[^\S\n]*+(?:>[0-9])?([{_WHITE}{_BLACK}])({_number(_USUAL_WIDTH)})\1[^{_WHITE}{_BLACK}「『“\"\n]{{0,{_NAME_MOST}}}\1",
    re.M,
)


# A marked line of either layout (`○N○`, `[0x…]`, `;[0x…]`).
_ANY_MARKED_START = re.compile(rf"^[^\S\n]*+{MARKED_START}", re.M)
# The pairs start at a marked line with at least `_RUN_MARKED` more among the
# `_RUN_LINES` lines below it (a pair's other side, the next pair; Aquarium_tools' text
# below each mark): a marked line quoted as an example in a translator's notes, prose
# below it, starts none. How many marked lines are tried before the first is taken.
_RUN_LINES = 8
_RUN_MARKED = 2
_RUN_TRIES = 64


def pairs_start(text: str) -> int:
    """Where the file's pairs start: its first marked line that starts a run of them, else
    its first marked line (0 where it has none). Its layout is told from there, not from a
    tool's header or a translator's notes above it, however long, nor from an example line
    they quote. The search stops at that line, the file's first in most dumps."""
    first = None
    for tried, found in enumerate(_ANY_MARKED_START.finditer(text)):
        at = found.start()
        if _starts_a_run(text, at):
            return at
        if first is None:
            first = at
        if tried == _RUN_TRIES:
            break
    return first or 0


def _starts_a_run(text: str, at: int) -> bool:
    """Whether the marked line at `at` has `_RUN_MARKED` more among the lines below it."""
    below = text.find("\n", at) + 1
    if not below:
        return False
    end = below
    for _ in range(_RUN_LINES):
        end = text.find("\n", end) + 1
        if not end:
            end = len(text)
            break
    return len(_ANY_MARKED_START.findall(text, below, end)) >= _RUN_MARKED


def _width(head: str) -> int:
    """How wide most numbers of the file's start are (`_USUAL_WIDTH` where it has none)."""
    widths = Counter(len(number) for _, number in _MARKED_START.findall(head))
    return widths.most_common(1)[0][0] if widths else _USUAL_WIDTH


def _has_name_fields(head: str) -> bool:
    """Whether most marked lines of the file's start have Siglus' name field."""
    return len(_NAME_FIELD_START.findall(head)) * 2 > len(_MARKED_START.findall(head))


def _split_name_fields(entries: list[_Pair | tuple[int, str]]) -> None:
    """`秀治☆「…」` → `【秀治】「…」`, `☆地の文` → `地の文`, in a file whose lines mostly
    have the field."""
    for entry in entries:
        if entry.__class__ is not _Pair:
            continue
        pair: _Pair = entry  # type: ignore[assignment]
        pair.original = _name_field(pair.original)
        pair.translation = _name_field(pair.translation)


def _name_field(side: tuple[int, str] | None) -> tuple[int, str] | None:
    if side is None or (match := _NAME_FIELD.match(side[1])) is None:
        return side
    name, said = match.group(1).strip(), match.group(2).strip()
    return (side[0], f"【{name}】{said}" if name and said else said)


def _black_kana(entries: list[_Pair | tuple[int, str]]) -> bool:
    """For a file that writes the black mark first in most of its pairs: whether that is
    its original, as the kana say (its white side not more often Japanese)."""
    kana = _KANA.search
    white_kana = black_kana = 0
    for entry in entries:
        if entry.__class__ is _Pair:
            pair: _Pair = entry  # type: ignore[assignment]
            if pair.original is not None and pair.translation is not None:
                white_kana += kana(pair.original[1]) is not None
                black_kana += kana(pair.translation[1]) is not None
    return white_kana <= black_kana


# DLTxT's `★nme00001★香奈` and Bgi_asdis' `☆000000N☆香奈`: the speaker of the next record.
_NAME_RECORD = re.compile(r"(?i:nme|name)[0-9]+|[0-9]+N")


def _is_name_tag(tag: str) -> bool:
    return (tag[-1] == "N" or tag[0] in "nN") and _NAME_RECORD.fullmatch(tag) is not None


def _first_name_record(entries: list[_Pair | tuple[int, str]]) -> int | None:
    """Where the first name record is in `entries`, None where none is."""
    record = _NAME_RECORD.fullmatch
    for i, entry in enumerate(entries):
        if entry.__class__ is _Pair:
            tag = entry.number  # type: ignore[union-attr]
            # Cheap tests first: most tags are numbers alone, and this looks at every pair.
            if (tag[-1] == "N" or tag[0] in "nN") and record(tag) is not None:
                return i
    return None


def _name_records(entries: list[_Pair | tuple[int, str]]) -> None:
    """Put each name record's name before the text of the pair below it (`【香奈】「…」`),
    each side's name on its side, and take the name records out."""
    # All the pairs are looked at, not a file's start: a game's first name record may come
    # after a long opening narration. The pass that finds none costs a hundredth of the read.
    first = _first_name_record(entries)
    if first is None:
        return
    kept: list[_Pair | tuple[int, str]] = entries[:first]
    name: _Pair | None = None
    for entry in entries[first:]:
        if entry.__class__ is not _Pair:
            name = None
            kept.append(entry)
            continue
        pair: _Pair = entry  # type: ignore[assignment]
        if _is_name_tag(pair.number):
            if name is not None:
                kept.append(name)  # a name naming nothing: kept as the pair it is
            name = pair
            continue
        if name is not None:
            pair.original = _named(name.original, pair.original)
            pair.translation = _named(name.translation, pair.translation)
            name = None
        kept.append(pair)
    if name is not None:
        kept.append(name)
    if len(kept) < len(entries):
        entries[:] = kept


def _named(name: tuple[int, str] | None, side: tuple[int, str] | None) -> tuple[int, str] | None:
    if name is None or not name[1] or side is None or not side[1]:
        return side
    return (side[0], f"【{name[1]}】{side[1]}")


# Kana: what a Japanese original has and a translation (Chinese, English…) does not.
_KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff]")


def _lines(
    entries: list[_Pair | tuple[int, str]], side: str, options: ParseOptions
) -> tuple[list[str], list[int], list[int], set[int]]:
    """The lines one side of the dump says, one a line as a plain dump holds them: the
    chosen `side`'s, or the other side's where that is missing or is the original copied
    as it is, with its kana (a line the tool filled in before anyone translated it;
    `「……」`, the same in both, has none). With them the entry each comes from (synthetic line i + 1 is
    entries[index[i]]), its line in the file (that of the chosen side's line, where it
    has one), and the entries read from the other side."""
    lines: list[str] = []
    index: list[int] = []
    at: list[int] = []
    stand_in: set[int] = set()
    add_line, add_index, add_at = lines.append, index.append, at.append
    original = side == ORIGINAL
    kana = _KANA.search
    for i, entry in enumerate(entries):
        if entry.__class__ is tuple:
            line, said = entry  # type: ignore[misc]
        else:
            pair: _Pair = entry  # type: ignore[assignment]
            read, alt = (
                (pair.original, pair.translation) if original else (pair.translation, pair.original)
            )
            if read is not None and read[1]:
                line, said = read
                # Not a translation that is the original copied, kana and all.
                if original or alt is None or said != alt[1] or kana(said) is None:
                    add_line(said)
                    add_index(i)
                    add_at(line)
                    continue
            elif alt is None or not alt[1]:
                continue  # nothing said on either side
            else:
                line = alt[0]
            said = alt[1]  # type: ignore[index]
            stand_in.add(i)
        add_line(said)
        add_index(i)
        add_at(line)
    # A pair holding only a name names the speaker of the quoted line of the next one,
    # as `名字：` alone does in a plain dump: written so, plain.py reads it by its rules
    # (a chapter heading, a sentence or a number is no name; nor is a line it reads
    # otherwise, `名字<TAB>台词`), and a scene marker stays one (`◆◆◆`). A quoted line
    # (`is_quoted`) starts with one of `_QUOTED_FIRST`: only those pay for the test.
    marker = options.scene_marker.match if options.scene_marker else None
    for i in range(len(lines) - 1):
        said, below = lines[i], lines[i + 1]
        if (
            below
            and below[0] in _QUOTED_FIRST
            and said
            and said[-1] not in _NEVER_ENDS_A_NAME
            and said[0] not in '【[『(（「“"'
            and is_quoted(below)
            and name_alone(said + "：") == said
            and (m := LINE.match(said)) is not None
            and m.group("narr")
            and (marker is None or marker(said) is None)
        ):
            lines[i] = said + "："
    return lines, index, at, stand_in


# What a line `is_quoted` starts with.
_QUOTED_FIRST = frozenset('「『“"(（[')
# What a name alone never ends with (plain's `_NOT_NAME`): a line ending so, a sentence,
# a quote or `名字：` already, is never made `名字：`, and costs no test.
_NEVER_ENDS_A_NAME = frozenset('：:「」『』“”"【】[]=。，、！？!?,.…')


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A pair per line of the game, and its utterances: no reference cycles among them, as
    # in plain.parse, but collections while they are made cost a tenth of the read.
    with gc_paused():
        return _utterances(_entries(text, options).entries, source, options)


def parse_pairs(
    pairs: list[tuple[int, str, str]], source: str, options: ParseOptions
) -> list[Utterance]:
    """(file line, original, translation) in file order, each one line (a `{"原文": "译文"}`
    dictionary's entries), read as a dump's pairs are: the side, a name alone naming the
    quoted line below it, an empty or copied translation left out as untranslated."""
    entries: list[_Pair | tuple[int, str]] = [
        _Pair(str(i), 0, (line, original.strip()), (line, translation.strip()))
        for i, (line, original, translation) in enumerate(pairs)
    ]
    return _utterances(entries, source, options)


def _utterances(
    entries: list[_Pair | tuple[int, str]], source: str, options: ParseOptions
) -> list[Utterance]:
    """The utterances of the chosen side of these pairs, each at its file line."""
    side = options.dump_side
    other = ORIGINAL if side == TRANSLATION else TRANSLATION
    out, index, file_lines, stand_in = _read(entries, side, source, options)
    if stand_in:
        # A line not in the chosen language names its speaker in the other one (アトリ
        # for 亚托莉): named as the pairs read on both sides say, it counts as hers.
        at = [index[u.line - 1] for u in out]
        theirs, their_index, _, missing = _read(entries, other, source, options)
        their_at = [their_index[u.line - 1] for u in theirs]
        names = _names(out, at, theirs, their_at, stand_in | missing)
        reason = MISSING[side]
        for utterance, entry in zip(out, at, strict=True):
            if entry in stand_in:
                utterance.dropped = reason
                if utterance.speaker is not None:
                    utterance.speaker = names.get(utterance.speaker, utterance.speaker)
    # Each line at its file line, not the number in its marks: file lines are unique and
    # in order (the numbers of two files, or two parts of one, may repeat), and they are
    # where an editor finds the line.
    for utterance in out:
        utterance.line = file_lines[utterance.line - 1]
    return out


def _read(
    entries: list[_Pair | tuple[int, str]], side: str, source: str, options: ParseOptions
) -> tuple[list[Utterance], list[int], list[int], set[int]]:
    """One side's utterances, each at its line in the text `_lines` makes, with what
    `_lines` gives beside its lines."""
    lines, index, at, stand_in = _lines(entries, side, options)
    if not lines:
        return [], [], [], set()
    # A line read from the other side is never joined to a line around it (a quote the
    # line above leaves open, a sentence it cuts at a comma): the two sides' words would mix.
    apart = {i + 1 for i, entry in enumerate(index) if entry in stand_in} if stand_in else ()
    out = parse_plain("\n".join(lines) + "\n", source, options, apart)
    return out, index, at, stand_in


def _names(
    mine: list[Utterance],
    my_at: list[int],
    theirs: list[Utterance],
    their_at: list[int],
    partial: set[int],
) -> dict[str, str]:
    """Each speaker's name on the other side → the chosen side's, as most of the pairs
    read on both sides give it."""
    by_entry = {e: u.speaker for u, e in zip(theirs, their_at, strict=True) if e not in partial}
    seen: dict[str, Counter[str]] = {}
    for utterance, entry in zip(mine, my_at, strict=True):
        their_name = by_entry.get(entry)
        if utterance.speaker is not None and their_name is not None:
            counts = seen.get(their_name)
            if counts is None:
                counts = seen[their_name] = Counter()
            counts[utterance.speaker] += 1
    return {name: counts.most_common(1)[0][0] for name, counts in seen.items()}


# How much of a dump, from its first marked line, the note on its marks' order reads.
_ORDER_CHARS = 200_000


def order_note(files: list[tuple[str, str]], options: ParseOptions) -> str | None:
    """One sentence naming the dumps (name, text) read with the black mark (★) as the
    original, as they write it first in each pair, else None."""
    names = []
    for name, text in files:
        start = pairs_start(text)
        if _entries(text[start : start + _ORDER_CHARS], options).black_first:
            names.append(name)
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        "Read the ●/★/◆ lines (or `;[0x…]`) as the original and the ○/☆/◇ lines (or `[0x…]`)"
        " as the translation, as these dumps write them first in each pair (the reverse of"
        f" the usual order): {shown}."
    )

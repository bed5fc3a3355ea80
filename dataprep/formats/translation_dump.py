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
scene when a scene marker matches them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from dataprep.formats.common import ParseOptions
from dataprep.formats.plain import LINE, is_quoted, name_alone
from dataprep.formats.plain import parse as parse_plain
from dataprep.records import UNTRANSLATED, Utterance

TRANSLATION = "translation"
ORIGINAL = "original"
# Drop reasons (in the stats) of a pair whose chosen side is missing.
MISSING = {TRANSLATION: UNTRANSLATED, ORIGINAL: "no_original"}

_ORIGINAL_MARKS = "○☆"
# `○000012○…`: a mark, the line's number, the same mark, then what is said.
MARKED = re.compile(r"[^\S\n]*+([○●☆★])([0-9]{1,10}+)\1[^\S\n]*+(.*)")
# A cheap first test before the regex, for the format sniffing.
_MARKS = frozenset("○●☆★")


def looks_like_dump(lines: list[str]) -> bool:
    """Whether most of these non-blank lines are marked dump lines."""
    marked = sum(1 for line in lines if line.lstrip()[:1] in _MARKS and MARKED.fullmatch(line))
    return marked * 2 > len(lines)


@dataclass(slots=True)
class _Pair:
    number: str
    # (file line, what is said) of each side, None while it has not been read.
    original: tuple[int, str] | None = None
    translation: tuple[int, str] | None = None


# Each match is one line that is not blank, with the blank lines above it (group 1): a
# marked line's mark, number and what is said, or any other line, less its leading
# blanks. Blank lines, a third of a dump, cost no step of the loop below.
_LINE = re.compile(
    r"((?:[^\S\n]*+\n)*+)[^\S\n]*+"
    r"(?:([○●☆★])([0-9]{1,10}+)\2[^\S\n]*+([^\n]*)|([^\n]+))\n?"
)


def _entries(text: str, options: ParseOptions) -> list[_Pair | tuple[int, str]]:
    """The pairs in file order, and the other lines that are scene markers ((line, text))."""
    marker = options.scene_marker.match if options.scene_marker else None
    entries: list[_Pair | tuple[int, str]] = []
    append = entries.append
    originals = _ORIGINAL_MARKS
    waiting: _Pair | None = None  # the last pair, while one of its sides is unread
    number = 0
    for blank, mark, index, said, other in _LINE.findall(text):
        number += blank.count("\n") + 1 if blank else 1
        if not mark:
            if marker is not None and (line := other.strip()) and marker(line):
                append((number, line))
                waiting = None
            continue
        if mark in originals:
            if waiting is not None and waiting.number == index and waiting.original is None:
                waiting.original = (number, said.strip())
                waiting = None
            else:
                waiting = _Pair(index, (number, said.strip()))
                append(waiting)
        elif waiting is not None and waiting.number == index and waiting.translation is None:
            waiting.translation = (number, said.strip())
            waiting = None
        else:
            waiting = _Pair(index, None, (number, said.strip()))
            append(waiting)
    return entries


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
            and said[-1] not in "：:"
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


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    side = options.dump_side
    other = ORIGINAL if side == TRANSLATION else TRANSLATION
    entries = _entries(text, options)
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

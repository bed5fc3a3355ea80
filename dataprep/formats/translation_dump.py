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
from dataprep.records import Utterance

TRANSLATION = "translation"
ORIGINAL = "original"
# Drop reasons (in the stats) of a pair whose chosen side is missing.
MISSING = {TRANSLATION: "untranslated", ORIGINAL: "no_original"}

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

    def side(self, name: str) -> tuple[int, str] | None:
        return self.original if name == ORIGINAL else self.translation


# Each match is one line, newline included (the i-th is line i + 1): a marked line's
# mark, number and what is said, or any other line, less its leading blanks.
_LINE = re.compile(r"[^\S\n]*+(?:([○●☆★])([0-9]{1,10}+)\1[^\S\n]*+([^\n]*)|([^\n]*))\n?")


def _entries(text: str, options: ParseOptions) -> list[_Pair | tuple[int, str]]:
    """The pairs in file order, and the other lines that are scene markers ((line, text))."""
    marker = options.scene_marker.match if options.scene_marker else None
    entries: list[_Pair | tuple[int, str]] = []
    waiting: _Pair | None = None  # the last pair, while one of its sides is unread
    matches = _LINE.findall(text)
    # A text ending in a newline also "matches" the empty line after it: not a line.
    del matches[text.count("\n") + (not text.endswith("\n")) :]
    for number, (mark, index, said, other) in enumerate(matches, 1):
        if not mark:
            if other and marker is not None and (line := other.strip()) and marker(line):
                entries.append((number, line))
                waiting = None
            continue
        side = (number, said.strip())
        is_original = mark in _ORIGINAL_MARKS
        if (
            waiting is not None
            and waiting.number == index
            and (waiting.original if is_original else waiting.translation) is None
        ):
            pair = waiting
            waiting = None
        else:
            pair = waiting = _Pair(index)
            entries.append(pair)
        if is_original:
            pair.original = side
        else:
            pair.translation = side
    return entries


# Kana: what a Japanese original has and a translation (Chinese, English…) does not.
_KANA = re.compile(r"[\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff]")


def _prefilled(pair: _Pair, side: str) -> bool:
    """A translation that is the original copied as it is, with its kana: a line the tool
    filled in before anyone translated it (`「……」`, the same in both, has none)."""
    if side != TRANSLATION or pair.original is None or pair.translation is None:
        return False
    said = pair.translation[1]
    return said == pair.original[1] and _KANA.search(said) is not None


def _said(pair: _Pair, side: str) -> tuple[int, str] | None:
    read = pair.side(side)
    return read if read is not None and read[1] else None


def _lines(
    entries: list[_Pair | tuple[int, str]], side: str, other: str, options: ParseOptions
) -> tuple[list[str], list[int], set[int]]:
    """The lines one side of the dump says, one a line as a plain dump holds them: the
    chosen `side`'s, or `other`'s where that is missing. With them the entry each comes
    from (synthetic line i + 1 is entries[index[i]]), and the entries read from `other`."""
    lines: list[str] = []
    index: list[int] = []
    stand_in: set[int] = set()
    for i, entry in enumerate(entries):
        if isinstance(entry, tuple):
            said = entry[1]
        else:
            read = _said(entry, side)
            if read is None or _prefilled(entry, side):
                read = _said(entry, other)
                if read is None:
                    continue  # nothing said on either side
                stand_in.add(i)
            said = read[1]
        lines.append(said)
        index.append(i)
    # A pair holding only a name names the speaker of the quoted line of the next one,
    # as `名字：` alone does in a plain dump: written so, plain.py reads it by its rules
    # (a chapter heading, a sentence or a number is no name; nor is a line it reads
    # otherwise, `名字<TAB>台词`), and a scene marker stays one (`◆◆◆`).
    marker = options.scene_marker.match if options.scene_marker else None
    for i in range(len(lines) - 1):
        said, below = lines[i], lines[i + 1]
        if (
            said
            and below
            and said[-1] not in "：:"
            and said[0] not in '【[『(（「“"'
            and is_quoted(below)
            and name_alone(said + "：") == said
            and (m := LINE.match(said)) is not None
            and m.group("narr")
            and (marker is None or marker(said) is None)
        ):
            lines[i] = said + "："
    return lines, index, stand_in


def _line_of(entry: _Pair | tuple[int, str], side: str, other: str) -> int:
    if isinstance(entry, tuple):
        return entry[0]
    read = _said(entry, side) or _said(entry, other)
    assert read is not None
    return read[0]


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    side = options.dump_side
    other = ORIGINAL if side == TRANSLATION else TRANSLATION
    entries = _entries(text, options)
    out, at, stand_in = _read(entries, side, other, source, options)
    if stand_in:
        # A line not in the chosen language names its speaker in the other one (アトリ
        # for 亚托莉): named as the pairs read on both sides say, it counts as hers.
        theirs, their_at, missing = _read(entries, other, side, source, options)
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
    for utterance, entry in zip(out, at, strict=True):
        utterance.line = _line_of(entries[entry], side, other)
    return out


def _read(
    entries: list[_Pair | tuple[int, str]],
    side: str,
    other: str,
    source: str,
    options: ParseOptions,
) -> tuple[list[Utterance], list[int], set[int]]:
    """One side's utterances, the entry each was read from, and the entries read from
    `other` because `side` has nothing there."""
    lines, index, stand_in = _lines(entries, side, other, options)
    if not lines:
        return [], [], set()
    # A line read from `other` is never joined to a line around it (a quote the line
    # above leaves open, a sentence it cuts at a comma): the two sides' words would mix.
    apart = {i + 1 for i, entry in enumerate(index) if entry in stand_in} if stand_in else ()
    out = parse_plain("\n".join(lines) + "\n", source, options, apart)
    return out, [index[u.line - 1] for u in out], stand_in


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
            seen.setdefault(their_name, Counter())[utterance.speaker] += 1
    return {name: counts.most_common(1)[0][0] for name, counts in seen.items()}

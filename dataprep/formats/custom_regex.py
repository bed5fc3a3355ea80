"""Any other line-based format: the user's regex with named groups `speaker` and `text`.
A regex holding a line break (`\\n`) is matched across lines, for dumps that give the
name on the line above its words (`^@(?P<speaker>\\S*)\\n(?P<text>.+)$`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from dataprep.errors import DataprepError
from dataprep.formats.common import ParseOptions, is_code, tidy_name
from dataprep.records import Utterance


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    pattern = options.custom_regex
    if pattern is None:
        raise DataprepError(
            f"{source}: format is regex but [dataprep] custom_regex is empty; set a regex with"
            " named groups speaker and text."
        )
    lines = _Lines(source, options)
    if not spans_lines(pattern):
        for number, raw in enumerate(text.splitlines(), 1):
            lines.read(raw, number, pattern.search)
        return lines.out
    # `^` and `$` keep meaning a line's start and end in the whole text.
    across = re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
    number, end = 1, 0
    for m in across.finditer(text):
        for gap_number, raw in _numbered(text[end : m.start()], number):
            lines.read(raw, gap_number, _no_match)
        number += text.count("\n", end, m.start())
        lines.said(m, number)
        number += text.count("\n", m.start(), m.end())
        end = m.end()
    for gap_number, raw in _numbered(text[end:], number):
        lines.read(raw, gap_number, _no_match)
    return lines.out


def spans_lines(pattern: re.Pattern[str]) -> bool:
    """Whether the regex names a line break, so one match may take several lines."""
    return "\\n" in pattern.pattern or "\n" in pattern.pattern


# How a line is matched: the regex's search, or nothing for the lines between matches.
Search = Callable[[str], "re.Match[str] | None"]


def _no_match(_line: str) -> re.Match[str] | None:
    return None


def _numbered(gap: str, first: int) -> Iterator[tuple[int, str]]:
    """The lines of a stretch of text no match took, numbered from `first`."""
    return enumerate(gap.split("\n"), first)


class _Lines:
    """The utterances read so far, and the scene they are in."""

    def __init__(self, source: str, options: ParseOptions) -> None:
        self.source = source
        self.marker = options.scene_marker.match if options.scene_marker else None
        self.out: list[Utterance] = []
        self.scene = 0

    def read(self, raw: str, number: int, search: Search) -> None:
        line = raw.strip()
        if not line:
            return
        if self.marker is not None and self.marker(line):
            self.scene += 1
            return
        if is_code(line):
            return
        m = search(line)
        if m is None:
            self.out.append(Utterance(None, line, self.source, number, str(self.scene)))
        else:
            self.said(m, number)

    def said(self, m: re.Match[str], number: int) -> None:
        speaker = tidy_name(m.group("speaker") or "") or None
        said = (m.group("text") or "").strip()
        if said:
            self.out.append(Utterance(speaker, said, self.source, number, str(self.scene)))

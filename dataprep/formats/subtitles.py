"""Subtitle files (SubRip `.srt`, WebVTT `.vtt`) made into a plain dump for `plain` to read.

A cue's id and timing line, WebVTT's `WEBVTT` header and its NOTE, STYLE and REGION blocks
are no one's words: they become blank lines, so each line of a cue keeps its number in the
file. A WebVTT voice tag names the speaker (`<v Atri>Hello</v>`, `<v.loud Atri>…`; its
closing tag is optional and the voice lasts to the end of the cue): its lines are written
`Atri: Hello`, to be matched by the aliases as any dump's names are. Other cue tags
(`<i>`, `<c.yellow>`, `<00:01.000>`, SubRip's `<font …>`, `{\\an8}`) are dropped, and a
ruby's reading (`<rt>…</rt>`) with them.
"""

from __future__ import annotations

import html
import re

SUFFIXES = (".srt", ".vtt")
# A cue's times (SubRip's `00:01:02,345 --> 00:01:04,000`, WebVTT's `01:02.345 --> …`).
CUE_TIMES = re.compile(
    r"^[^\S\n]*(?:\d+:)?\d{1,2}:\d\d[,.]\d{3}[^\S\n]+-->[^\S\n]+(?:\d+:)?\d{1,2}:\d\d[,.]\d{3}",
    re.M,
)
# WebVTT blocks that hold no cue, known by their first word.
_NOT_CUES = re.compile(r"(?:\ufeff?WEBVTT|NOTE|STYLE|REGION)(?![^\s])")
# `<v Atri>`, `<v.loud Atri>` (the voice's name is all after the blank), and `</v>`.
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+([^>\n]+)>|</v>")
# A ruby's reading, then every other tag: a named one (`<i>`, `</c>`, `<font color="…">`),
# a timestamp (`<00:01.000>`) and SubRip's position codes (`{\an8}`).
_READING = re.compile(r"<rt(?:\.[^\s>]*)?>.*?(?:</rt>|$)")
_TAG = re.compile(r"</?[A-Za-z][\w.-]*(?:[ \t][^>\n]*)?>|<\d[\d:.]*>|\{\\[^}\n]*\}")


def is_subtitles(source: str) -> bool:
    """Whether the file (by its name) is a subtitle file."""
    return source.lower().endswith(SUFFIXES)


def as_dump(text: str) -> str:
    """The subtitle file's text as a dump, line for line (a line spoken by several voices
    becomes one line for each)."""
    out: list[str] = []
    for block in re.split(r"(\n[^\S\n]*\n)", text):
        if not block or block.isspace():
            out.append(block)
        else:
            out.append("\n".join(_block_lines(block.split("\n"))))
    return "".join(out)


def _block_lines(lines: list[str]) -> list[str]:
    """A block's lines: those of its cue's text read, the rest blank."""
    first = next((line for line in lines if line.strip()), "")
    if _NOT_CUES.match(first.strip()) is not None:
        return [""] * len(lines)
    timing = next((i for i, line in enumerate(lines[:3]) if "-->" in line), None)
    if timing is None:
        return lines  # no cue: a line of a dump, kept as it is
    return [""] * (timing + 1) + _cue_text(lines[timing + 1 :])


def _cue_text(lines: list[str]) -> list[str]:
    """A cue's lines with its voices named (`Name: text`) and its other tags dropped; a
    voice's line wrapped onto the next lines of the cue is one line, on its first."""
    said: list[list[list[str]]] = []  # each line's [name or "", text] pieces
    voice: str | None = None  # the voice still speaking from a line above
    last: list[str] | None = None  # the piece that voice said last
    for line in lines:
        said.append([])
        for at, (piece_voice, piece) in enumerate(_voiced_pieces(line, voice)):
            text = html.unescape(_TAG.sub("", _READING.sub("", piece))).strip()
            # The first piece of a line goes on the voice's line above (`last`).
            goes_on = at == 0 and piece_voice is not None
            voice = piece_voice
            if not text:
                continue
            if goes_on and last is not None:
                last[1] += f" {text}"
            else:
                last = [piece_voice or "", text]
                said[-1].append(last)
            if piece_voice is None:
                last = None
    return [
        "\n".join(f"{name}: {text}" if name else text for name, text in pieces) for pieces in said
    ]


def _voiced_pieces(line: str, voice: str | None) -> list[tuple[str | None, str]]:
    """The line cut at each voice tag: (voice or None, its text), the first piece spoken by
    the voice from the line above (if only ""), a piece after `</v>` by none."""
    pieces: list[tuple[str | None, str]] = []
    start = 0
    for tag in _VOICE.finditer(line):
        if tag.start() > start or not pieces:
            pieces.append((voice, line[start : tag.start()]))
        name = tag.group(1)
        voice, start = (None if name is None else " ".join(name.split())), tag.end()
    pieces.append((voice, line[start:]))
    return pieces

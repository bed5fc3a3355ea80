"""Voice transcription lists (`path|speaker|lang|text`, as Bert-VITS2 / GPT-SoVITS use).

The list has no scene markup; the folder of the audio path is the nearest thing (games
group voice files by scene or chapter), and a configured marker line also starts one.
"""

from __future__ import annotations

import re

from dataprep.formats.common import ParseOptions, tidy_name
from dataprep.records import Utterance

LINE = re.compile(r"(?P<path>[^|]*)\|(?P<speaker>[^|]*)\|(?P<lang>[^|]*)\|(?P<text>.*)")
# What makes a first field a voice file's path, for detection: an audio file's name, or a
# path (`wavs/001`, `D:\\voice\\001`). Four `|` fields alone are no sign: a WebGAL
# `choose:A:a.txt|B:b.txt|C:c.txt|D:d.txt;` line has them too.
_AUDIO = re.compile(r".*\.(?:wav|ogg|mp3|flac|opus|m4a|aac|wma)", re.IGNORECASE)
# The run before the first slash holds none, possessively: backtracking to each slash of a
# long path and reading on to its end was quadratic (a 32 KiB first field took 1.7 s).
_PATH = re.compile(r"(?:[A-Za-z]:)?[^\s:/\\]*+[/\\][^\s:]*+")


def is_entry(line: str) -> bool:
    """Whether `line` is a voice list's `path|speaker|lang|text`, its path a path."""
    m = LINE.fullmatch(line.strip())
    if m is None:
        return False
    path = m.group("path").strip()
    return bool(_AUDIO.fullmatch(path) or _PATH.fullmatch(path))


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    marks = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if marker is not None and marker(line):
            marks += 1
            continue
        m = LINE.fullmatch(line)
        if m is None:
            continue
        said = m.group("text").strip()
        if not said:
            continue
        path = m.group("path").replace("\\", "/")
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        speaker = tidy_name(m.group("speaker")) or None
        out.append(Utterance(speaker, said, source, number, f"{marks}:{folder}"))
    return out

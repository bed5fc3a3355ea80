"""Any other line-based format: the user's regex with named groups `speaker` and `text`."""

from __future__ import annotations

from dataprep.errors import DataprepError
from dataprep.formats.common import ParseOptions, is_code
from dataprep.records import Utterance


def parse(text: str, source: str, options: ParseOptions) -> list[Utterance]:
    pattern = options.custom_regex
    if pattern is None:
        raise DataprepError(
            f"{source}: format is regex but [dataprep] custom_regex is empty; set a regex with"
            " named groups speaker and text."
        )
    marker = options.scene_marker.match if options.scene_marker else None
    out: list[Utterance] = []
    scene = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if marker is not None and marker(line):
            scene += 1
            continue
        if is_code(line):
            continue
        m = pattern.search(line)
        if m is None:
            out.append(Utterance(None, line, source, number, str(scene)))
            continue
        speaker = (m.group("speaker") or "").strip() or None
        said = (m.group("text") or "").strip()
        if said:
            out.append(Utterance(speaker, said, source, number, str(scene)))
    return out

"""Script formats: detect which one a file is in, and parse it into utterances."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

from dataprep.formats import (
    custom_regex,
    kirikiri,
    message_json,
    naninovel,
    plain,
    renpy,
    rpgmaker,
    translation_dump,
    voice_list,
)
from dataprep.formats.common import ParseOptions, compile_markers
from dataprep.records import Utterance

Parser = Callable[[str, str, ParseOptions], list[Utterance]]

PARSERS: dict[str, Parser] = {
    "plain": plain.parse,
    "kirikiri": kirikiri.parse,
    "renpy": renpy.parse,
    "voice_list": voice_list.parse,
    "regex": custom_regex.parse,
    "translation_dump": translation_dump.parse,
    "json": message_json.parse,
    "naninovel": naninovel.parse,
    "rpgmaker": rpgmaker.parse,
}
FORMAT_NAMES = tuple(PARSERS)

# Sniffing looks at the head of the file only; these are cheap signatures.
_SNIFF_CHARS = 32 * 1024
_KAG_SIGNS = re.compile(r"\[(?:p|l|r|np|wvl|cm)\]|^@\w+|^\[nm\b|^\*\w+|^#\S*$", re.M)
_RENPY_SIGNS = re.compile(
    r"^\s*(?:define\s+\w+\s*=\s*\w*Character\s*\(|label\s+\w+.*:|translate\s+\w+\s+\w+:)", re.M
)


def detect_format(text: str, filename: str, has_custom_regex: bool = False) -> str:
    """Pick a parser from the extension, then from what the first lines look like."""
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".ks":
        return "kirikiri"
    if suffix == ".rpy":
        return "renpy"
    if suffix == ".nani":
        return "naninovel"
    if suffix == ".json" and rpgmaker.is_event_data(text):
        return "rpgmaker"
    # Any .json is read as a message list: one that is not (a config, a dataset) is
    # skipped with the reason, never read as lines of another format.
    if suffix == ".json" or message_json.SIGNATURE.match(text):
        return "json"
    head = text[:_SNIFF_CHARS]
    lines = [line for line in head.splitlines()[:400] if line.strip()]
    # `○000012○原文` / `●000012●译文` pairs: unmistakable, so before a custom regex, which
    # would read the marks as part of the speaker.
    if lines and translation_dump.looks_like_dump(lines):
        return "translation_dump"
    if has_custom_regex:
        return "regex"
    if lines:
        piped = sum(1 for line in lines if voice_list.LINE.fullmatch(line.strip()))
        if piped * 2 >= len(lines):
            return "voice_list"
    if len(_RENPY_SIGNS.findall(head)) >= 2:
        return "renpy"
    if len(_KAG_SIGNS.findall(head)) >= 3:
        return "kirikiri"
    return "plain"


def parse(text: str, source: str, fmt: str, options: ParseOptions) -> list[Utterance]:
    return PARSERS[fmt](text, source, options)


__all__ = ["FORMAT_NAMES", "PARSERS", "ParseOptions", "compile_markers", "detect_format", "parse"]

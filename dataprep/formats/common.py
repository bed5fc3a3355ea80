"""What every format parser shares: its options and the scene-marker test."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Settings a parser needs, already compiled (parsers never see the config object)."""

    scene_marker: re.Pattern[str] | None = None
    custom_regex: re.Pattern[str] | None = None
    # Ren'Py defines characters in one file and uses them in others: the pipeline
    # collects `define x = Character(...)` from every .rpy file before parsing any.
    renpy_characters: dict[str, str] = field(default_factory=dict)


def compile_markers(patterns: list[str]) -> re.Pattern[str] | None:
    """One regex for all scene-marker patterns, matched at the start of a stripped line."""
    if not patterns:
        return None
    return re.compile("|".join(_scoped(p) for p in patterns))


_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(pattern: str) -> str:
    """`(?i)abc` may not sit inside an alternation; `(?i:abc)` may and means the same."""
    m = _GLOBAL_FLAGS.match(pattern)
    if m is None:
        return f"(?:{pattern})"
    return f"(?{m.group(1)}:{pattern[m.end() :]})"

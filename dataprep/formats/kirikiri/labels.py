"""`*label` lines and the scenes they start. In KAG3 `*name|title` is a label that is also
a save point, `title` the save's name; commercial scripts put one before every message
(`*|`, or `*p12|` with no title) so that the player may save there. Such a label is no
scene of its own, or no exchange would ever form; a label starts a scene where it names
one (`*start`, `*A_03_10_01|朝から元気な意外性`: a title other than the scene's) or where
a file given jumps, calls or links to it (`target=*p12`: a choice's branch, a chapter).
`label_targets` gives the labels jumped to under `TARGET_KEY` (merged with
`names.display_names` for every file), and `starts_scene` tells one label.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Under this key plus a label's name (`*p12`), the names the reader reads with hold the
# labels a file given jumps, calls or links to (`[jump target=*p12]`, `@call target=…`).
TARGET_KEY = "*"
# `target=*p12`, `target="*p12"` in any tag (jump, call, link, button, glink, …).
_TARGET = re.compile(r"""\btarget[ \t]*=[ \t]*["'`]?\*([^\s"'`\]|]+)""", re.I)


class Label(NamedTuple):
    name: str
    title: str | None  # None where the line has no `|` (no save point)


def label(line: str) -> Label:
    """A `*name|title` line's name and save title."""
    name, bar, title = line[1:].partition("|")
    return Label(name.strip(), title.strip() if bar else None)


def label_targets(text: str) -> dict[str, str]:
    """`TARGET_KEY` plus each label the text jumps, calls or links to → ""."""
    if "target" not in text.lower():
        return {}
    return dict.fromkeys((TARGET_KEY + name for name in _TARGET.findall(text)), "")


def starts_scene(found: Label, scene_title: str | None, names: dict[str, str]) -> bool:
    """Whether a label starts a scene: one with no name (`*|`) never does; a save point
    with no title (`*p12|`) or the title of the scene it is in (`*p1|第一話` before every
    page of 第一話) only where a file given jumps to it; any other label does."""
    if not found.name:
        return False
    if found.title is None or found.title not in ("", scene_title):
        return True
    return TARGET_KEY + found.name in names

"""The data that flows between the stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    LEAD = "lead"
    CHARACTER = "character"
    OTHER = "other"
    NARRATION = "narration"


# The drop reason (in the stats) of a line said in the original but not in the language
# read: a translation dump's pair not translated yet, a translated line that is the
# original copied, a Ren'Py line said from Python with no strings translation.
UNTRANSLATED = "untranslated"


@dataclass(slots=True)
class Utterance:
    """One line of the script as a parser saw it.

    `speaker` is None for narration. `scene` is a key unique within the source file;
    a change of scene ends any exchange in progress, and so does a change of `branch`
    within a scene (one choice of a Ren'Py menu, or the lines after the menu), whose
    lines never follow those of another choice in play. A choice's lines do follow
    those before its menu: `forked_from` is the branch they are in (None for a branch
    that follows no branch in particular: the first, or the lines after a menu).
    """

    speaker: str | None
    text: str
    source: str
    line: int
    scene: str
    # Why the line cannot be used as written (a drop reason counted in the stats), e.g.
    # a variable in it that no script gives a value; None for a usable line.
    dropped: str | None = None
    branch: int = 0
    forked_from: int | None = None
    # True when the parser already removed its format's markup (Ren'Py's {tags} and
    # [var]s, KiriKiri's [tags]): what is left is what the player reads, a `[literal]`
    # written `[[literal]` included, and the cleaning stage deletes no markup from it.
    shown: bool = False
    # Where the text was read when that is not `source`/`line`: a Ren'Py translated line
    # (game/tl/<lang>/…) stands at the original say statement it translates, whose file
    # and line order it among the original's lines; this is its translation file and line.
    read_from: tuple[str, int] | None = None
    # The game shows it as a thought, whatever its text (a Ren'Py thought character's
    # line, even a bare `(sigh)`): the lead's is left out as his thought.
    thought: bool = False


@dataclass(slots=True)
class Turn:
    """Consecutive lines of one speaker, merged; `lines` are the (source, line) they came from."""

    role: Role
    text: str
    lines: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class Sample:
    """A training example: alternating turns, human first, ending with ATRI's reply."""

    turns: list[tuple[Role, str]]
    source: str
    scene: str
    reply_lines: list[tuple[str, int]] = field(default_factory=list)
    from_background: bool = False

    @property
    def reply(self) -> str:
        return self.turns[-1][1]

    @property
    def prompt(self) -> str:
        return self.turns[-2][1] if len(self.turns) >= 2 else ""

    @property
    def scene_key(self) -> str:
        return scene_key(self.source, self.scene)


def scene_key(source: str, scene: str) -> str:
    """A scene told apart from those of the same name in other files."""
    return f"{source}#{scene}"

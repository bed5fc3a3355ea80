"""Map speaker names to the two roles that matter: the lead and the character."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from dataprep.records import Role

# Speaker labels that mean "nobody is speaking" in fan dumps.
NARRATOR_NAMES = frozenset({"旁白", "ナレーション", "地の文", "narrator", "narration", "旁白者"})
_BRACKETS = re.compile(r"^[【\[(（「]+|[】\])）」]+$")


@lru_cache(maxsize=4096)  # a script has few names and says them thousands of times
def normalise_name(name: str) -> str:
    """Compare names by NFKC, case-folded, without spaces, invisible characters (zero-width
    spaces and joiners, soft hyphens, a stray BOM: format characters) or surrounding brackets."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    if not folded.isascii():
        folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    folded = _BRACKETS.sub("", folded.strip())
    return "".join(folded.split())


@dataclass(frozen=True)
class SpeakerMap:
    lead: frozenset[str]
    character: frozenset[str]

    @classmethod
    def from_aliases(cls, lead: Iterable[str], character: Iterable[str]) -> SpeakerMap:
        return cls(
            lead=frozenset(normalise_name(a) for a in lead if a.strip()),
            character=frozenset(normalise_name(a) for a in character if a.strip()),
        )

    def role(self, speaker: str | None) -> Role:
        if speaker is None:
            return Role.NARRATION
        name = normalise_name(speaker)
        if not name or name in NARRATOR_NAMES:
            return Role.NARRATION
        # The character first: if a user lists a name under both, that is who we train.
        if name in self.character:
            return Role.CHARACTER
        if name in self.lead:
            return Role.LEAD
        return Role.OTHER

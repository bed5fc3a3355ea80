"""Map speaker names to the two roles that matter: the lead and the character."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from dataprep.records import Role

# Speaker labels that mean "nobody is speaking" in fan dumps.
NARRATOR_NAMES = frozenset({"旁白", "ナレーション", "地の文", "narrator", "narration", "旁白者"})
# A note after a name: 亚托莉（微笑）, Natsuki (whispering) (NFKC made （） into ()).
_NOTE = re.compile(r"(?<=[^(\s])\s*\([^()]*\)$")
# Closing brackets tried only where their run starts: from each bracket of a long run not
# at the end, the run was read to its end again (quadratic in a long name).
_BRACKETS = re.compile(r"^[【\[(（「]++|(?<![】\])）」])[】\])）」]++$")


@lru_cache(maxsize=4096)  # a script has few names and says them thousands of times
def normalise_name(name: str) -> str:
    """Compare names by NFKC, case-folded, without spaces, invisible characters (zero-width
    spaces and joiners, soft hyphens, a stray BOM: format characters), a note in brackets
    after the name, surrounding brackets, or a full stop after it."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    if not folded.isascii():
        folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    folded = folded.strip()
    if folded.endswith(")"):
        folded = _NOTE.sub("", folded)
    folded = _BRACKETS.sub("", folded)
    if folded.endswith(".") and len(folded) > 1 and folded[-2].isalnum():
        # `Hermione.`: a translation's stray full stop (a real game's tl/ strings), not
        # another speaker; "..." stays a name of its own.
        folded = folded[:-1]
    return "".join(folded.split())


@dataclass(frozen=True)
class SpeakerMap:
    lead: frozenset[str]
    character: frozenset[str]
    # Applied to names and aliases before comparing them (Traditional → Simplified, when
    # the lines are converted too), so that 亞托莉 in the script is 亚托莉 in the config.
    convert: Callable[[str], str] | None = None

    @classmethod
    def from_aliases(
        cls,
        lead: Iterable[str],
        character: Iterable[str],
        convert: Callable[[str], str] | None = None,
    ) -> SpeakerMap:
        def names(aliases: Iterable[str]) -> frozenset[str]:
            found = {normalise_name(a) for a in aliases if a.strip()}
            if convert is not None:
                found |= {normalise_name(convert(a)) for a in aliases if a.strip()}
            return frozenset(found)

        return cls(lead=names(lead), character=names(character), convert=convert)

    def role(self, speaker: str | None) -> Role:
        if speaker is None:
            return Role.NARRATION
        name = normalise_name(speaker if self.convert is None else self.convert(speaker))
        if not name or name in NARRATOR_NAMES:
            return Role.NARRATION
        role = self._role_of(name)
        if role is Role.OTHER and "/" in name:
            # `Atri/亚托莉`: one name in two spellings; `Natsuki/Atri` (both at once) is
            # neither of them, so every part must name the same one.
            roles = {self._role_of(part) for part in name.split("/")}
            if len(roles) == 1:
                return roles.pop()
        return role

    def _role_of(self, name: str) -> Role:
        # The character first: if a user lists a name under both, that is who we train.
        if name in self.character:
            return Role.CHARACTER
        if name in self.lead:
            return Role.LEAD
        return Role.OTHER

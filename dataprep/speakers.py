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
# A note after a name that makes the line a thought, not speech (`夏生（心想）：…`,
# `Natsuki (thinking): …`), as `normalise_name` folds it: NFKC, case-folded, no blanks.
_THOUGHT_NOTES = frozenset(
    {"心想", "内心", "內心", "心声", "心聲", "心里", "心裡", "心中", "心里想", "心裡想", "暗想",
     "内心独白", "內心獨白", "独白", "獨白", "心の声", "心の中", "モノローグ", "思考",
     "thinking", "thought", "thoughts", "innervoice", "innermonologue", "monologue"}
)  # fmt: skip
_LAST_NOTE = re.compile(r"\(([^()]*)\)$")
# Words after a name, with no colon between (`亚托莉说：“…”`, `亚托莉笑着说：`, `夏生心想：`),
# that say how the line is said: the name is the speaker's all the same. Only where what
# comes before is an alias (`SpeakerMap.role`), so no other name loses a last character.
# The manner before a verb: 笑着, 小声, or any 得意地 / 開心地.
_MANNER = r"(?:笑着|笑著|哭着|哭著|小声|小聲|轻声|輕聲|大声|大聲|低声|低聲|[^\W\d_]{1,4}地)?"
_SPEECH_VERB = re.compile(
    rf"{_MANNER}(?:说道?|說道?|问道?|問道?|答道?|回答道?|喊道?|叫道|笑道|道"
    r"|(?:は|が)(?:言った|言う|答えた|尋ねた|叫んだ))"
)
_THOUGHT_VERB = re.compile(r"心想|心道|暗想|暗道|心里想|心裡想|(?:は|が)思った")
# The same in English, in lower case after the name and a blank (`Atri said: "…"`,
# `Natsuki thinks: …`), with at most one adverb in -ly before or after the verb (`Atri
# softly said`, `Atri said quietly`): not a character called "Atri Says", nor `Atri said
# to herself` (words not said to him; `Atri said nothing` says none).
_ENGLISH_SPEECH_VERBS = frozenset(
    {"said", "says", "asked", "asks", "replied", "replies", "answered", "answers",
     "whispered", "whispers", "shouted", "shouts", "yelled", "yells", "exclaimed",
     "exclaims", "muttered", "mutters"}
)  # fmt: skip
_ENGLISH_THOUGHT_VERBS = frozenset({"thought", "thinks", "wondered", "wonders"})
_ADVERB = r"[a-z]+ly"
# The label's last two words or its last one, as written: the verb and its adverb.
_LAST_WORDS = re.compile(r"[^\S\n]([a-z]+)(?:[^\S\n]+([a-z]+))?[^\S\n]*\Z")
_ADVERB_WORD = re.compile(_ADVERB)
# A line wholly in round brackets (`（なんなんだ、こいつは……）`, `(What on earth…)`).
_ROUND_BRACKETS = frozenset("(（")
_ROUND_CLOSERS = frozenset(")）")


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
        name = normalise_name(self._converted(speaker))
        if not name or name in NARRATOR_NAMES:
            return Role.NARRATION
        role = self._role_of(name)
        if role is Role.OTHER and "/" in name:
            # `Atri/亚托莉`: one name in two spellings; `Natsuki/Atri` (both at once) is
            # neither of them, so every part must name the same one.
            roles = {self._role_of(part) for part in name.split("/")}
            if len(roles) == 1:
                return roles.pop()
        if role is Role.OTHER:
            split = self._alias_and_verb(name, self._converted(speaker))
            if split is not None:
                return self._role_of(split[0])
        return role

    def thinks(self, speaker: str | None) -> bool:
        """Whether the name says its line is thought, not said: a note after it
        (`夏生（心想）`, `Natsuki (thinking)`) or a verb of thinking after an alias (`夏生心想`)."""
        if speaker is None:
            return False
        note = _LAST_NOTE.search(unicodedata.normalize("NFKC", self._converted(speaker)))
        if note is not None and normalise_name(note.group(1)) in _THOUGHT_NOTES:
            return True
        converted = self._converted(speaker)
        split = self._alias_and_verb(normalise_name(converted), converted)
        return split is not None and split[1]

    def _converted(self, speaker: str) -> str:
        return speaker if self.convert is None else self.convert(speaker)

    def _alias_and_verb(self, name: str, label: str) -> tuple[str, bool] | None:
        return alias_and_verb(name, label, self._is_alias)

    def _is_alias(self, name: str) -> bool:
        return name in self.character or name in self.lead

    def _role_of(self, name: str) -> Role:
        # The character first: if a user lists a name under both, that is who we train.
        if name in self.character:
            return Role.CHARACTER
        if name in self.lead:
            return Role.LEAD
        return Role.OTHER


def alias_and_verb(
    name: str, label: str, is_alias: Callable[[str], bool]
) -> tuple[str, bool] | None:
    """An alias and a verb after it (`亚托莉说`, `亚托莉笑着说`, `夏生心想`, `Atri said`, `Atri
    softly said`), as (the alias, whether the verb is one of thinking); None for any other
    name. `name` is the label compared (`normalise_name`), `label` as written: an English
    verb and its adverb must be its last words, in lower case."""
    english = english_alias_and_verb(name, label, is_alias)
    if english is not None:
        return english
    for cut in range(1, len(name)):
        alias = name[:cut]
        if not is_alias(alias):
            continue
        if _SPEECH_VERB.fullmatch(name, cut) is not None:
            return alias, False
        if _THOUGHT_VERB.fullmatch(name, cut) is not None:
            return alias, True
    return None


def english_alias_and_verb(
    name: str, label: str, is_alias: Callable[[str], bool]
) -> tuple[str, bool] | None:
    """`alias_and_verb` for an English verb alone (`Atri said`, `Atri softly said`)."""
    english = _english_verb(label)
    if english is None:
        return None
    words, thinks = english
    alias = name[: -len(words)]
    return (alias, thinks) if alias and name.endswith(words) and is_alias(alias) else None


@lru_cache(maxsize=4096)  # a novel writes `she said` thousands of times
def _english_verb(label: str) -> tuple[str, bool] | None:
    """The English verb at the end of a label, with its adverb (`said`, `softly said`,
    `said softly`), as (those words joined, as `normalise_name` leaves them; whether the
    verb is one of thinking); None where the label ends otherwise."""
    last = _LAST_WORDS.search(unicodedata.normalize("NFKC", label))
    if last is None:
        return None
    first, second = last.groups()
    if second is None or _ADVERB_WORD.fullmatch(first) is not None:
        words = (first, second) if second is not None else (first,)
        verb = words[-1]  # `said`, `softly said`
    elif _ADVERB_WORD.fullmatch(second) is not None:
        words, verb = (first, second), first  # `said softly`
    else:
        words, verb = (second,), second  # `the girl said`: the verb alone is tried
    if verb in _ENGLISH_SPEECH_VERBS:
        return "".join(words), False
    if verb in _ENGLISH_THOUGHT_VERBS:
        return "".join(words), True
    return None


# A quote in a narration line: someone's words (`她歪着头说「我是亚托莉」`, `“走吧”`, `"Wait!"`).
_QUOTED = r"「[^」\n]+」|“[^”\n]+”|\"[^\"\n]+\""
# 道 in 道歉, 道谢, 道别 (apologise, thank, say goodbye) quotes nobody.
_NOT_SAID = r"(?![歉谢謝别別])"


def words_in_narration(character_aliases: Iterable[str]) -> re.Pattern[str]:
    """What in a narration line gives someone's words: a quote in it, or one of her
    aliases with a speech verb right after it (`亚托莉小声说了句什么`, `アトリは言った`, `Atri
    said nothing`; in English one adverb may come first: `Atri softly said something`), the
    verbs a speaker's name may carry (`SpeakerMap.role`). Something was said there that no
    sample holds, so the lead's lines on either side of it are no one turn. (It looks
    behind nothing, so a search may start anywhere in a line.)"""
    aliases = sorted({a.strip() for a in character_aliases if a.strip()}, key=len, reverse=True)
    found = [_QUOTED]
    if aliases:
        names = "|".join(map(re.escape, aliases))
        english = "|".join(sorted(_ENGLISH_SPEECH_VERBS))
        found.append(
            rf"(?i:{names})(?:(?:{_SPEECH_VERB.pattern}){_NOT_SAID}"
            rf"|\s+(?:{_ADVERB}\s+)?(?:{english})\b)"
        )
    return re.compile("|".join(found))


def is_thought_text(text: str) -> bool:
    """Whether a line of the lead's reads as a thought: round brackets hold the whole of
    it (`（这家伙……）`, `(What on earth…)`, `（她真的会做饭吗（笑）……）`), and it says something
    (a sentence's punctuation, or more than `_ACTION_CHARS` characters). Not a line that
    only starts with an aside (`（笑）好啊`), nor two asides (`(a) and (b)`), nor a short
    action (`（点头）`, `(nods)`): that is done before her, and she answers it, as she
    answers members who write theirs so in a chat."""
    if not _wholly_bracketed(text):
        return False
    inner = text[1:-1].strip()
    return len(inner) > _ACTION_CHARS or _SAYS_SOMETHING.search(inner) is not None


# An action in brackets is short and has no sentence's punctuation (`（摇了摇头）`,
# `(sighs heavily)`); a thought mostly has it (`（好可爱……）`, `(What now?)`).
_ACTION_CHARS = 30
_SAYS_SOMETHING = re.compile(r"[。！？…!?.,，、；;：:~～—]")


def _wholly_bracketed(text: str) -> bool:
    """Whether the round bracket that opens `text` closes at its very end (brackets
    inside, `(sigh)`, nest)."""
    if text[:1] not in _ROUND_BRACKETS or len(text) < 2:
        return False
    depth = 0
    for at, char in enumerate(text):
        if char in _ROUND_BRACKETS:
            depth += 1
        elif char in _ROUND_CLOSERS:
            depth -= 1
            if depth == 0:
                return at == len(text) - 1
    return False

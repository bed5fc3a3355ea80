"""Out-of-character detection: does a reply break ATRI's character?

Everything it looks for comes from `[ooc]` in config.toml: assistant-speak (the
helpful-chatbot voice), self-reference as an AI, a product or hardware (the seed's
"I am the graphics card"), profanity, dialect words, and drift into another
language. The worker's guard regenerates flagged replies; `atri eval` reports the rate.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from atri.config import OOCSettings

# Which writing systems a reply in each language may use.
ALLOWED_SCRIPTS = {"zh": {"han"}, "ja": {"han", "kana"}, "en": {"latin"}}
_WORD_SCRIPTS = {"latin", "cyrillic"}  # scripts counted per word, not per letter
_ASCII_WORD = re.compile(r"[A-Za-z]+")
# Share of kana among a text's Han and kana above which it is Japanese.
KANA_SHARE = 0.1
# Characters only Chinese writes: simplified forms whose Japanese kanji differ (说/説,
# 这/這, 时/時), Traditional forms Japanese simplified otherwise (說/説, 們, 氣/気, 對/対),
# and words Japanese has no use for (们, 吗, 呢, 你, 她). Han without kana is Chinese only
# with one of these: "了解。明日午前九時、駅前集合。" is Japanese too.
CHINESE_ONLY = frozenset(
    "们这说话么吗呢吧啊哦嗯你她很过还对时让给认识问题应该现觉样开关东车长门见气为动发经实"
    "們說嗎沒麼妳您對讓應覺樣關氣發經實啦嘛呀"
)


@dataclass(frozen=True)
class OOCVerdict:
    flagged: bool
    reasons: tuple[str, ...] = ()


@functools.lru_cache(maxsize=8192)
def script_of(ch: str) -> str:
    """The writing system of one character ("" for digits, punctuation, spaces).

    Cached: a reply is checked on the event loop, letter by letter, and a chat uses a
    few thousand distinct characters at most."""
    code = ord(ch)
    # Kana, half-width kana, and 々 〆: marks no Chinese text uses.
    if (
        0x3040 <= code <= 0x30FF
        or 0x31F0 <= code <= 0x31FF
        or 0xFF66 <= code <= 0xFF9D
        or code in (0x3005, 0x3006)
    ):
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "hangul"
    if not ch.isalpha():
        return ""
    name = unicodedata.name(ch, "")
    if name.startswith("LATIN") or ch.isascii():
        return "latin"
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    return "other"


def script_units(text: str) -> Counter[str]:
    """How much of each script `text` holds: one unit per Han/kana/Hangul character and
    per Latin/Cyrillic word, so "我是ATRI哦" is mostly Chinese."""
    units: Counter[str] = Counter()
    if text.isascii():  # the common English reply: its words are its letter runs
        words = len(_ASCII_WORD.findall(text))
        if words:
            units["latin"] = words
        return units
    previous = ""
    for ch in text:
        script = script_of(ch)
        if script and not (script in _WORD_SCRIPTS and script == previous):
            units[script] += 1
        previous = script
    return units


def detect_language(text: str) -> str:
    """ "zh", "ja", "en", or "" when `text` has too few letters to tell.

    Its caller tells a card's language from its paragraphs, where Japanese always has
    kana: kanji alone with nothing only simplified Chinese writes is then Traditional
    Chinese ("亞托莉是一個機器人少女"), so the undecided case is Chinese here."""
    units = script_units(text)
    cjk = units["han"] + units["kana"]
    if cjk + units["latin"] < 3:
        return ""
    if cjk >= units["latin"]:
        return han_language(text, units) or "zh"
    return "en"


def word_language(word: str) -> str:
    """The language a listed word belongs to by its letters: kana is Japanese, Han
    without kana Chinese, Latin English; "" for any other script (no one language)."""
    units = script_units(word)
    for script, language in (("kana", "ja"), ("han", "zh"), ("latin", "en")):
        if units[script]:
            return language
    return ""


class _Word:
    """A listed word, found anywhere in a folded reply; one that starts with a Latin
    letter only where a word starts ("shit" is not in "hashitte", Romanised Japanese, nor
    in "mishit"): Chinese and Japanese have no blanks to tell words apart by."""

    def __init__(self, text: str) -> None:
        self.text = text
        latin = text[:1].isascii() and text[:1].isalpha()
        self._at_word_start = re.compile(rf"(?<![a-z]){re.escape(text)}") if latin else None

    def found_in(self, folded: str) -> bool:
        if self.text not in folded:
            return False
        return self._at_word_start is None or self._at_word_start.search(folded) is not None


# The apostrophes models write beside the plain one: right and left single quotes, the
# modifier letter, the full-width one.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\uff07", "'"))


def _plain_apostrophes(text: str) -> str:
    """The reply as the rules read it: "I’m an AI" is "I'm an AI", which they name."""
    return text.translate(_APOSTROPHES)


def _folded(text: str) -> str:
    """Lower case with typographic apostrophes made plain: a listed "ain't" is found in
    "Ain’t", as models write it."""
    return _plain_apostrophes(text).lower()


def is_japanese(units: Counter[str]) -> bool:
    """Whether the Han and kana of a text read as Japanese: Han alone does not tell
    Japanese from Chinese, but a Japanese sentence never goes without kana for long."""
    return units["kana"] > KANA_SHARE * (units["han"] + units["kana"])


def han_language(text: str, units: Counter[str]) -> str:
    """Whether the Han and kana of `text` (its `script_units`) are "ja" (kana beside
    them), "zh" (no kana, and a character only Chinese writes), or "" when kanji alone
    could be either: "了解。明日午前九時。" is Japanese as much as Chinese."""
    if is_japanese(units):
        return "ja"
    if not CHINESE_ONLY.isdisjoint(text):
        return "zh"
    return ""


class OOCDetector:
    """`check(reply)` says whether a reply is out of character, and why.

    `language` overrides `[ooc] language`; with "auto" and no override there is no
    drift check. The worker and `atri eval` build theirs with `for_character`, so a
    reply is judged the same way where it is served and where it is evaluated.
    """

    @classmethod
    def for_character(cls, settings: OOCSettings, speaks: str) -> OOCDetector:
        """`[ooc] language`, or with "auto" the language ATRI speaks (the chosen card's)."""
        return cls(settings, language=speaks if settings.language == "auto" else None)

    def __init__(self, settings: OOCSettings, language: str | None = None) -> None:
        self.rules = [
            (kind, re.compile(p))
            for kind, patterns in (
                ("assistant-speak", settings.assistant_speak),
                ("self-reference", settings.self_reference),
                ("pattern", settings.patterns),
            )
            for p in patterns
        ]
        chosen = language if language is not None else settings.language
        self.language = "" if chosen in {"auto", "any"} else chosen
        # Swearing is out of character in any language; a dialect word only in its own:
        # 俺 is north-eastern Mandarin to a Chinese card and plain "I" to a Japanese one.
        self.profanity = [_Word(_folded(w)) for w in settings.profanity if w]
        self.dialect = [
            _Word(_folded(w)) for w in settings.dialect if w and self._judges(word_language(w))
        ]
        self.max_foreign_share = settings.max_foreign_share
        self.min_units = settings.min_language_units

    def _judges(self, word_lang: str) -> bool:
        """Whether a dialect word of `word_lang` applies: every word when the language
        judged is unknown (or one with no dialect words of its own), a word of no one
        language always, and otherwise one of the language judged."""
        if self.language not in ALLOWED_SCRIPTS or not word_lang:
            return True
        return word_lang == self.language

    def check(self, reply: str) -> OOCVerdict:
        reasons: list[str] = []
        plain = _plain_apostrophes(reply)
        for kind, rx in self.rules:
            match = rx.search(plain)
            if match:
                reasons.append(f"{kind} {match.group(0)!r}")
        folded = _folded(reply)
        reasons += [f"profanity {w.text!r}" for w in self.profanity if w.found_in(folded)]
        reasons += [f"dialect {w.text!r}" for w in self.dialect if w.found_in(folded)]
        drift = self.language_drift(reply)
        if drift:
            reasons.append(drift)
        return OOCVerdict(bool(reasons), tuple(reasons))

    def language_drift(self, reply: str) -> str:
        """A reason when most of the reply is in a script the language does not use."""
        allowed = ALLOWED_SCRIPTS.get(self.language)
        if not allowed:
            return ""
        units = script_units(reply)
        total = sum(units.values())
        if total < self.min_units:
            return ""
        foreign = {s: n for s, n in units.items() if s not in allowed}
        # Chinese and Japanese share Han: which one a reply's Han belongs to is told by
        # the kana beside it, so 今天天气很好 is foreign to a Japanese card and
        # 今日は天気が良い to a Chinese one, however many kanji it has.
        # Kanji alone, with nothing only Chinese writes, is Japanese as likely: neither.
        if self.language in {"zh", "ja"} and units["han"]:
            han = han_language(reply, units)
            if han and han != self.language:
                foreign.pop("kana", None)
                foreign[{"ja": "Japanese", "zh": "Chinese"}[han]] = units["han"] + units["kana"]
        share = sum(foreign.values()) / total
        if share <= self.max_foreign_share:
            return ""
        main = max(foreign, key=lambda s: foreign[s])
        return f"language drift ({share:.0%} {main}, expected {self.language})"

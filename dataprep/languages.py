"""Which language a script file's lines are in, from a few thousand characters of them:
enough to tell a user who gave one game's files in several languages (Katawa Shoujo's
`game/` folder holds its English, Spanish, French and Japanese scripts side by side, as
separate labels, not a `tl/` translation) that the samples mix them.

Told by letters first (kana is Japanese, hangul Korean, Han without kana Chinese,
Cyrillic Russian), then, for Latin letters, by the commonest short words of English,
Spanish, French, German and Portuguese. "" when the sample says too little.
"""

from __future__ import annotations

import re
from collections import Counter

# How much of a file's lines is looked at: the first lines say its language as well as
# all of them, and a 20 MB dump costs nothing more.
SAMPLE_CHARS = 4000
_ENOUGH_LETTERS = 40

_SCRIPTS = (
    ("kana", re.compile(r"[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9d]")),
    ("hangul", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("han", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("latin", re.compile(r"[A-Za-z\u00c0-\u024f]")),
)
# The commonest words of each language, few enough that another language rarely
# shares them ("de", "la" and "que" are in three of them: left out).
_WORDS = {
    "English": {"the", "and", "you", "is", "it", "to", "of", "what", "that", "this"},
    "Spanish": {"el", "los", "es", "y", "por", "pero", "qué", "está", "yo", "muy"},
    "French": {"le", "les", "est", "et", "je", "vous", "pas", "c'est", "une", "mais"},
    "German": {"der", "die", "und", "ich", "nicht", "ist", "das", "du", "was", "ein"},
    "Portuguese": {"o", "os", "não", "é", "você", "eu", "uma", "mas", "isso", "está"},
}
_WORD = re.compile(r"[a-zà-ÿ']+")


# The code a character card gives its language in (`[persona] language`), per name.
LANGUAGE_CODES = {
    "English": "en",
    "Japanese": "ja",
    "Korean": "ko",
    "Chinese": "zh",
    "Russian": "ru",
    "Spanish": "es",
    "French": "fr",
    "German": "de",
    "Portuguese": "pt",
}


def sample_language(sample: str) -> str:
    """The language of a sample of a file's lines ("English", "Japanese", …), or ""."""
    counts = {name: len(pattern.findall(sample)) for name, pattern in _SCRIPTS}
    letters = sum(counts.values())
    if letters < _ENOUGH_LETTERS:
        return ""
    cjk = counts["kana"] + counts["han"]
    if counts["kana"] >= max(cjk * 0.1, 3):
        return "Japanese"
    if counts["hangul"] >= letters * 0.3:
        return "Korean"
    if counts["han"] >= letters * 0.3:
        return "Chinese"
    if counts["cyrillic"] >= letters * 0.3:
        return "Russian"
    if counts["latin"] < letters * 0.5:
        return ""
    words = Counter(_WORD.findall(sample.lower()))
    hits = {name: sum(words[w] for w in common) for name, common in _WORDS.items()}
    best = max(hits, key=hits.__getitem__)
    return best if hits[best] >= 3 else ""

"""Whether a Chinese name found in a line is the name, or two characters of two words.

Chinese writes no spaces, so the lead's name 夏生 is also found in 初夏生机勃勃 (初夏 "early
summer", 生机勃勃 "full of life"), 盛夏生长 and 立夏生日; replaced by {{user}} there, the
training text became 初{{user}}机勃勃. Most places are plainly the name: it stands between
punctuation, or no dictionary word joins one of its characters to the one beside it
(夏生先生, 是夏生的, 和夏生说). Only where such a word exists (初夏, 生日) is the clause
segmented with jieba's dictionary, the name in it as a word as common as a name in a
script; the name is replaced only where it comes out as a word of its own (夏生/日记 and
夏生/长大 are him; 初夏/生机勃勃, 今年/夏/生意 are not). Where the dictionary cannot tell
(夏/生病 了: "Natsuki fell ill"), the name is left as written: a name kept costs the
adapter a name, a word cut apart costs it a sentence.

The dictionary is jieba's (installed with it, read from disk, nothing downloaded), loaded
only when a script first has such a place: most runs never load it.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

# Han characters: the only ones a Chinese dictionary word is made of.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# How far either side of a name the clause segmented around it reaches (Han characters).
CONTEXT_CHARS = 8
# The longest dictionary word looked for across the name's edge, in characters.
_LONGEST_WORD = 4
# How common the name is made in the dictionary: as a word a script writes often, yet
# below a common word's count (生日, 生长 are thousands), so that 今年夏生意不好 stays 生意.
NAME_FREQUENCY = 100


def has_han(name: str) -> bool:
    return _HAN.search(name) is not None


class ChineseNames:
    """Tells, for Chinese names found in a text, whether each place is the name."""

    def __init__(self, names: list[str]) -> None:
        self.names = [name for name in names if has_han(name)]
        self._segmenter: Any = None
        self._lock = threading.Lock()

    def is_name_at(self, text: str, start: int, end: int) -> bool:
        """Whether text[start:end], one of the names, is the name there."""
        name = text[start:end]
        if not _joined(text, start, end, _edge_words(name)):
            return True
        lo, hi = _clause(text, start, end)
        at = 0
        ends = {0}
        for token in self._segment(text[lo:hi]):
            at += len(token)
            ends.add(at)
        return start - lo in ends and end - lo in ends

    def _segment(self, clause: str) -> list[str]:
        with self._lock:
            if self._segmenter is None:
                self._segmenter = _segmenter(tuple(self.names))
            return list(self._segmenter.cut(clause, HMM=False))


def _joined(text: str, start: int, end: int, edge_words: frozenset[str]) -> bool:
    """Whether a dictionary word joins the name's first character to the characters
    before it, or its last to those after it, or goes on past the whole name (安然无恙
    holds 安然, 小春日 春日)."""
    for size in range(1, _LONGEST_WORD):
        if start - size >= 0 and (
            text[start - size : start + 1] in edge_words or text[start - size : end] in edge_words
        ):
            return True
        if end + size <= len(text) and (
            text[end - 1 : end + size] in edge_words or text[start : end + size] in edge_words
        ):
            return True
    return False


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The Han characters around the name, up to CONTEXT_CHARS either side."""
    lo = start
    while lo > 0 and start - lo < CONTEXT_CHARS and _HAN.match(text, lo - 1):
        lo -= 1
    hi = end
    while hi < len(text) and hi - end < CONTEXT_CHARS and _HAN.match(text, hi):
        hi += 1
    return lo, hi


@lru_cache(maxsize=64)
def _edge_words(name: str) -> frozenset[str]:
    """The dictionary's words of 2 to _LONGEST_WORD characters that end with the name's
    first character or start with its last, or that hold the whole name and go on past
    it: the only ones that can join the name to its neighbours. Found by one scan of the
    dictionary's text, without loading jieba."""
    first, last, whole = (re.escape(part) for part in (name[0], name[-1], name))
    most = _LONGEST_WORD - 1
    pattern = (
        rf"^(?:[^\s]{{1,{most}}}{first}|{last}[^\s]{{1,{most}}}"
        rf"|[^\s]{{1,{most}}}{whole}|{whole}[^\s]{{1,{most}}}) "
    )
    text = _dictionary_text()
    return frozenset(
        word.rstrip()
        for word in re.findall(pattern, text, re.MULTILINE)
        if len(word.rstrip()) <= _LONGEST_WORD
    )


@lru_cache(maxsize=1)
def _dictionary_text() -> str:
    return _dictionary_path().read_text(encoding="utf-8")


def _dictionary_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise RuntimeError("jieba is not installed: run scripts/setup.sh again")
    return Path(spec.origin).parent / "dict.txt"


@lru_cache(maxsize=8)
def _segmenter(names: tuple[str, ...]) -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it says "Building prefix dict…" on stderr
    segmenter = jieba.Tokenizer()
    for name in names:
        segmenter.add_word(name, NAME_FREQUENCY)
    return segmenter

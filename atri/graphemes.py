"""Cutting text to a length between two characters as a reader sees them (grapheme
clusters), for the bots and the worker alike: a bot's parts and kept input
(`bot.splitting`, `bot.limits`) and the worker's room lines (`model.room`). A text cut
inside one (a flag's two letters, 👨‍👩‍👧's joiners, a skin tone, an accent) shows
each half as a box or the wrong character."""

from __future__ import annotations

from model.protocol import GRAPHEME

# The furthest a cut moves back to keep a character whole; past it (a letter under
# hundreds of accents) it stays hard at the limit.
MAX_CUT_BACK = 128


def _cluster_start(text: str, at: int) -> int:
    """Where the grapheme cluster holding text[at] begins (`at` itself at a boundary).
    A boundary depends only on what comes before it, so text past `at` is not read."""
    start = 0
    for cluster in GRAPHEME.finditer(text, 0, at + 1):
        start = cluster.start()
    return start


def character_cut(text: str, limit: int) -> int:
    """Where to cut `text` for at most `limit` code points before the cut, between two
    characters as a reader sees them: else a flag, an emoji of several code points or an
    accent is cut in two, and each half shows as a box or the wrong character. Hard at
    `limit` where one character alone reaches back past `MAX_CUT_BACK` (a letter under
    hundreds of accents): nothing else keeps the cut within the limit."""
    if limit >= len(text):
        return len(text)
    if limit <= 0:
        return 0
    start = _cluster_start(text, limit)
    return start if start > 0 and limit - start <= MAX_CUT_BACK else limit


def within_limit(text: str, limit: int) -> str:
    """The start of `text` that `character_cut` keeps: at most `limit` code points."""
    return text[: character_cut(text, limit)]

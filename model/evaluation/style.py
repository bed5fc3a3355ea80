"""ATRI's style markers (catchphrases, first-person forms, sentence endings) as a rate."""

from __future__ import annotations

from collections.abc import Sequence

PER_CHARS = 100


def style_rate(texts: Sequence[str], markers: Sequence[str]) -> float:
    """Marker occurrences per 100 characters over all texts (any case); 0 for no text."""
    lowered = [m.lower() for m in markers if m]
    chars = sum(len(t) for t in texts)
    if not chars or not lowered:
        return 0.0
    hits = sum(t.lower().count(m) for t in texts for m in lowered)
    return PER_CHARS * hits / chars

"""Session 51 on `admission.TokenCounts`: its byte cap counted the texts alone, so a
table of short chat messages ("哈哈 好的 3", under 100 bytes each) took about twice its
cap in memory, the rest being the table's own entries. Now each entry is counted whole."""

from __future__ import annotations

import gc
import tracemalloc

from model.admission import TokenCounts

CAP = 2 * 1024 * 1024


def held_at_cap(count_of: int) -> tuple[int, TokenCounts]:
    """The memory a table at its cap holds (traced), texts included, and the table."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        counts = TokenCounts(lambda text: count_of + len(text), CAP)
        for i in range(40_000):  # well past the cap: old texts are let go
            counts(f"哈哈 好的 {i}")
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, counts
    finally:
        tracemalloc.stop()


def test_short_texts_take_no_more_memory_than_the_cap() -> None:
    for count_of in (3, 1000):  # a count above 256 is an int object of its own
        held, counts = held_at_cap(count_of)
        assert counts.bytes <= CAP and len(counts) < 40_000
        assert CAP * 0.8 < held <= CAP * 1.02, (count_of, held)

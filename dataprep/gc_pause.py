"""Pause Python's cyclic garbage collector while building many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Half a million utterances hold no reference cycles, but creating them triggers
    repeated full collections that cost more than the parsing itself; pause them.

    On leaving, what was built during the pause goes to the oldest generation unscanned
    (freeze, then unfreeze at once): otherwise the first young collection after it walks
    every sample still alive, a tenth of a second on a 20 MB script, only to promote them
    there. Nothing stays frozen: the next full collection sees them as usual. (Skipped
    when the program froze objects of its own, which an unfreeze would let go.)
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()

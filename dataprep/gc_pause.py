"""Pause Python's cyclic garbage collector while building many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Half a million utterances hold no reference cycles, but creating them triggers
    repeated full collections that cost more than the parsing itself; pause them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

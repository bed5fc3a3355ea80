"""The collector pause: objects built during it skip the young scans but stay collectable."""

from __future__ import annotations

import gc
import weakref

from dataprep.gc_pause import gc_paused


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_cycle_built_while_paused_is_collected_afterwards() -> None:
    with gc_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert alive() is None


def test_objects_the_program_froze_stay_frozen() -> None:
    frozen = _Node()
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with gc_paused():
            _Node()
        # An unfreeze would empty the permanent generation; a freeze would add what the
        # pause built. The count may still drop a little: another thread (a test's leftover
        # event loop, a tokenizer pool) can free objects that were frozen with the rest.
        after = gc.get_freeze_count()
        assert 0 < after <= before
    finally:
        gc.unfreeze()
    del frozen

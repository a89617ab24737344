"""``dnsgate serve`` tunes the garbage collector (app.tune_garbage_collector)."""

from __future__ import annotations

import gc

from dnsgate.app import FULL_COLLECTION_EVERY, tune_garbage_collector


def test_start_up_objects_are_frozen_and_full_passes_are_rare():
    before = gc.get_threshold()
    kept = [object() for _ in range(10)]  # something alive to freeze
    gc.collect()
    try:
        tune_garbage_collector()
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2]
        assert full == FULL_COLLECTION_EVERY > before[2]
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

"""Train/eval split by scene, so that no scene has lines on both sides."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict

from dataprep.records import Sample


def _rank(key: str, seed: int) -> str:
    # A hash, not random.shuffle: a scene stays on its side when other files change.
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def _portable_sources(sources: set[str]) -> dict[str, str]:
    """Each file's path relative to the folder all of them are in, with "/" between its
    folders: the split ranks scenes by these, so moving or renaming the script folder, or
    reading it on Windows (`sub\\ch2.txt`), keeps every scene on its side."""
    folders = [os.path.dirname(s) for s in sources if s]
    try:
        base = os.path.commonpath(folders) if folders else ""
    except ValueError:  # absolute and relative paths mixed: nothing shared to cut off
        base = ""
    return {s: os.path.relpath(s, base).replace(os.sep, "/") if s and base else s for s in sources}


def split_by_scene(
    samples: list[Sample], eval_ratio: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Whole scenes go to eval, in hash order, until about `eval_ratio` of samples are there;
    a scene that would take eval past 1.5 times that is passed over.

    With two or more scenes and a ratio above zero, eval gets at least one scene (the
    smallest when none fits) and train keeps at least one.
    """
    keys = [s.scene_key for s in samples]  # made once: each is a new string
    scenes: dict[str, list[Sample]] = defaultdict(list)
    for key, sample in zip(keys, samples, strict=True):
        scenes[key].append(sample)
    if eval_ratio <= 0 or len(scenes) < 2:
        return list(samples), []
    target = eval_ratio * len(samples)
    eval_keys: set[str] = set()
    taken = 0
    where = _portable_sources({s.source for s in samples})
    ranks = {
        key: _rank(f"{where[group[0].source]}#{group[0].scene}", seed)
        for key, group in scenes.items()
    }
    ordered = sorted(scenes, key=ranks.__getitem__)
    for key in ordered:
        if len(eval_keys) == len(scenes) - 1 or taken >= target:
            break
        if taken + len(scenes[key]) > target * 1.5:
            continue  # a big scene would overshoot; a later, smaller one may fit
        eval_keys.add(key)
        taken += len(scenes[key])
    if not eval_keys:
        # No scene fits: the smallest one, not the first in hash order, which could hold
        # nearly every sample (40 of 42 held out of two files, the 40 in one of them).
        eval_keys.add(min(ordered, key=lambda key: len(scenes[key])))
    held_out = [key in eval_keys for key in keys]
    train = [s for s, out in zip(samples, held_out, strict=True) if not out]
    evaluation = [s for s, out in zip(samples, held_out, strict=True) if out]
    return train, evaluation

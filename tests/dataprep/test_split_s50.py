"""The held-out split never takes a big scene when a small one fits (a real dump of two
files, 840 and 25 samples with a custom regex, held out the 840)."""

from __future__ import annotations

from dataprep.records import Role, Sample
from dataprep.split import split_by_scene


def scene_samples(counts: dict[str, int]) -> list[Sample]:
    return [
        Sample([(Role.LEAD, f"{scene}{i}"), (Role.CHARACTER, "好")], f"{scene}.txt", "0")
        for scene, count in counts.items()
        for i in range(count)
    ]


def test_a_scene_far_over_the_ratio_is_passed_over_for_one_that_fits() -> None:
    samples = scene_samples({"big": 40, "small": 2})
    for seed in range(20):  # whichever comes first in hash order
        train, evaluation = split_by_scene(samples, 0.1, seed)
        assert {s.source for s in evaluation} == {"small.txt"}, seed
        assert len(train) == 40


def test_when_no_scene_fits_the_smallest_is_held_out() -> None:
    samples = scene_samples({"a": 30, "b": 12, "c": 25})
    for seed in range(20):
        _, evaluation = split_by_scene(samples, 0.01, seed)
        assert {s.source for s in evaluation} == {"b.txt"}, seed

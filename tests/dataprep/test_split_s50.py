"""The held-out split never takes a big scene when a small one fits (a real dump of two
files, 840 and 25 samples with a custom regex, held out the 840)."""

from __future__ import annotations

from dataprep.records import Role, Sample
from dataprep.report import _big_held_out_note
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


def test_a_held_out_share_far_over_the_ratio_is_named() -> None:
    # Session 52: two .CCS files of 35 and 32 samples, one scene each: 32 of 67 held out
    # with eval_ratio 0.1, and the run said only "32 eval samples in 1 held-out scene".
    samples = scene_samples({"a": 35, "b": 32})
    train, evaluation = split_by_scene(samples, 0.1, 42)
    said = _big_held_out_note(train, evaluation, 0.1)
    assert said is not None and said.startswith("32 of the 67 samples (48%) are held out")
    assert "scene_markers" in said and "eval_ratio = 0" in said
    samples = scene_samples({"a": 35, "b": 32, "c": 5})
    assert _big_held_out_note(*split_by_scene(samples, 0.1, 42), 0.1) is None


def test_one_held_out_sample_is_said_in_the_singular() -> None:
    train, evaluation = split_by_scene(scene_samples({"a": 3, "b": 1}), 0.1, 1)
    said = _big_held_out_note(train, evaluation, 0.1)
    assert said is not None and said.startswith("1 of the 4 samples (25%) is held out"), said

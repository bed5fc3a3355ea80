"""The llama.cpp engine's sampler (model/engines/sampling.py) against the whole-vocabulary
code it replaced, kept here as the reference: the same tokens may be drawn, each with the
same probability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from atri.config import GenerationSettings
from model.engines.sampling import FIRST_LOOK, candidates, draw, penalise_repeats

VOCAB = 49152  # the offline model's


def reference_probs(logits: Any, gen: GenerationSettings) -> Any:
    """What the engine did before: temperature, top-k and top-p over every token."""
    logits = logits / gen.temperature
    if 0 < gen.top_k < len(logits):
        cut = np.partition(logits, -gen.top_k)[-gen.top_k]
        logits = np.where(logits < cut, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if gen.top_p < 1.0:
        order = np.argsort(-probs)
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, gen.top_p)) + 1]
        kept = np.zeros_like(probs)
        kept[keep] = probs[keep]
        probs = kept / kept.sum()
    return probs


def as_vector(ids: Any, probs: Any, size: int) -> Any:
    vector = np.zeros(size)
    vector[ids] = probs
    return vector


SETTINGS = [
    GenerationSettings(temperature=0.7, top_p=0.9, top_k=50),  # the shipped [generation]
    GenerationSettings(temperature=1.0, top_p=1.0, top_k=50),
    GenerationSettings(temperature=0.7, top_p=0.9, top_k=0),
    GenerationSettings(temperature=1.5, top_p=0.99, top_k=0),  # a flat one: a wide nucleus
    GenerationSettings(temperature=1.0, top_p=1.0, top_k=0),
    GenerationSettings(temperature=0.3, top_p=0.5, top_k=1),
]


@pytest.mark.parametrize("gen", SETTINGS, ids=lambda g: f"t{g.temperature}-p{g.top_p}-k{g.top_k}")
@pytest.mark.parametrize("spread", [0.5, 3.0, 12.0])
def test_the_same_tokens_with_the_same_probabilities(
    gen: GenerationSettings, spread: float
) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        logits = (rng.standard_normal(VOCAB) * spread).astype(np.float32)
        ids, probs = candidates(logits, gen)
        expected = reference_probs(logits, gen)
        np.testing.assert_allclose(as_vector(ids, probs, VOCAB), expected, rtol=1e-5, atol=1e-9)
        assert set(ids[probs > 0]) == set(np.flatnonzero(expected))


def test_a_nucleus_wider_than_the_first_look_is_found_whole() -> None:
    # Flat scores: top-p 0.9 needs about 90% of the tokens, far past FIRST_LOOK.
    logits = np.random.default_rng(3).uniform(0, 0.01, VOCAB).astype(np.float32)
    gen = GenerationSettings(temperature=1.0, top_p=0.9, top_k=0)
    ids, _ = candidates(logits, gen)
    assert len(ids) > 40 * FIRST_LOOK
    assert set(ids) == set(np.flatnonzero(reference_probs(logits, gen)))


def test_ties_with_the_kth_score_are_kept_as_transformers_keeps_them() -> None:
    logits = np.zeros(100, dtype=np.float32)
    logits[:3] = 5.0
    logits[3:10] = 4.0  # the 4th-best score, held by 7 tokens
    ids, probs = candidates(logits, GenerationSettings(temperature=1.0, top_p=1.0, top_k=4))
    assert sorted(ids) == list(range(10))
    np.testing.assert_allclose(probs.sum(), 1.0)


def test_tokens_shut_out_are_never_drawn_and_the_rest_as_often_as_weighed() -> None:
    logits = np.full(1000, -np.inf, dtype=np.float32)
    logits[[10, 20, 30]] = np.log([0.5, 0.3, 0.2])
    gen = GenerationSettings(temperature=1.0, top_p=1.0, top_k=0)
    ids, probs = candidates(logits, gen)
    rng = np.random.default_rng(11)
    drawn = [draw(ids, probs, rng) for _ in range(20000)]
    counts = {token: drawn.count(token) / len(drawn) for token in set(drawn)}
    assert set(counts) == {10, 20, 30}
    for token, share in [(10, 0.5), (20, 0.3), (30, 0.2)]:
        assert abs(counts[token] - share) < 0.02  # 20,000 draws: 4+ standard deviations


def test_repetition_penalty_as_transformers_applies_it() -> None:
    logits = np.array([2.0, -2.0, 1.0, 0.0, 3.0], dtype=np.float32)
    # Token 0 in both the prompt and the reply: penalised once.
    penalise_repeats(logits, [0, 1, 0], [3, 0], 2.0)
    np.testing.assert_allclose(logits, [1.0, -4.0, 1.0, 0.0, 3.0])
    unchanged = logits.copy()
    penalise_repeats(logits, [0, 1], [], 1.0)
    penalise_repeats(logits, [], [], 2.0)
    np.testing.assert_array_equal(logits, unchanged)

"""Drawing the next token from a row's scores, for engines that sample themselves
(llama.cpp): transformers' order and rules, repetition penalty, temperature, top-k, top-p.

It works on the candidates alone: the top-k (and, without one, the smallest set of the
best tokens that holds the top-p mass), not the whole vocabulary. Sorting and drawing
over all 49,152 scores of the offline model cost about 2 ms a row a step, a tenth of a
reply's time alone and more with several users, while llama.cpp's threads waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from atri.config import GenerationSettings

# Without top-k, the top-p set is looked for among the best FIRST_LOOK tokens, then
# LOOK_GROWTH times as many, until they hold top_p of the mass (or all are sorted).
FIRST_LOOK = 64
LOOK_GROWTH = 8


def penalise_repeats(
    logits: Any, prompt: Iterable[int], reply: Iterable[int], penalty: float
) -> None:
    """transformers' repetition penalty, in place: a token already in the prompt or
    the reply has its positive score divided by `penalty`, its negative one multiplied.
    The set of them is made only when there is a penalty (every step of every row)."""
    import numpy as np

    if penalty == 1.0:
        return
    seen = set(prompt).union(reply)
    if not seen:
        return
    ids = np.fromiter(seen, dtype=np.int64, count=len(seen))
    values = logits[ids]
    logits[ids] = np.where(values > 0, values / penalty, values * penalty)


def candidates(logits: Any, gen: GenerationSettings) -> tuple[Any, Any]:
    """The tokens sampling may draw and their probabilities (summing to 1), after
    temperature, top-k and top-p. Ties with the k-th best score are kept, as
    transformers keeps them; top-p keeps the best tokens until their mass reaches it,
    the one that reaches it included."""
    import numpy as np

    scaled = logits / gen.temperature
    if 0 < gen.top_k < len(scaled):
        cut = np.partition(scaled, -gen.top_k)[-gen.top_k]
        ids = np.flatnonzero(scaled >= cut)
        probs = _softmax(scaled[ids])
        if gen.top_p < 1.0:
            order = np.argsort(-probs)
            ids, probs = _nucleus(ids[order], probs[order], gen.top_p)
        return ids, probs
    probs = _softmax(scaled)
    if gen.top_p >= 1.0:
        return np.arange(len(probs)), probs
    look = FIRST_LOOK
    while look < len(probs):
        best = np.argpartition(-probs, look)[:look]
        best = best[np.argsort(-probs[best])]
        if np.cumsum(probs[best])[-1] >= gen.top_p:
            return _nucleus(best, probs[best], gen.top_p)
        look *= LOOK_GROWTH
    order = np.argsort(-probs)
    return _nucleus(order, probs[order], gen.top_p)


def draw(ids: Any, probs: Any, rng: Any) -> int:
    """One of `ids`, each as likely as its probability."""
    import numpy as np

    cumulative = np.cumsum(probs)
    # side="right": a draw that lands on the end of a zero-probability token's (empty)
    # share goes to the next token that has one.
    at = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return int(ids[min(at, len(ids) - 1)])


def _softmax(scores: Any) -> Any:
    import numpy as np

    probs = np.exp(scores - scores.max())
    return probs / probs.sum()


def _nucleus(ids: Any, probs: Any, top_p: float) -> tuple[Any, Any]:
    """Of tokens sorted best first, those up to the one whose mass reaches `top_p`."""
    import numpy as np

    keep = int(np.searchsorted(np.cumsum(probs), top_p)) + 1
    kept = probs[:keep]
    return ids[:keep], kept / kept.sum()

"""Held-out loss and perplexity over ATRI's (labelled) tokens.

Logits are positions x vocabulary: for a 7B model with a 150k vocabulary, a batch of long
samples is gigabytes, and their fp32 copy twice that. So rows go through the model in
groups whose logits stay under `LOGITS_BUDGET` elements, and the loss is summed over
`LOSS_CHUNK_POSITIONS` positions at a time in fp32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from model.training.dataset import IGNORE, Collator, Sample

# Logit elements one forward pass may produce: 2**28 is 0.5 GB in bf16.
LOGITS_BUDGET = 1 << 28
# Positions whose logits are copied to fp32 at once for the loss.
LOSS_CHUNK_POSITIONS = 512


def rows_per_pass(samples: Sequence[Sample], vocab: int, batch_size: int) -> int:
    """How many rows of this length fit one forward pass under the logits budget."""
    longest = max((len(s) for s in samples), default=1)
    return max(1, min(batch_size, LOGITS_BUDGET // max(1, longest * vocab)))


def summed_loss(logits: Any, target: Any) -> tuple[float, int]:
    """(summed NLL, labelled tokens) of next-token logits against `target`, a chunk of
    positions at a time so only one chunk is ever in fp32."""
    import torch

    total, count = 0.0, 0
    for p in range(0, target.shape[1], LOSS_CHUNK_POSITIONS):
        part = logits[:, p : p + LOSS_CHUNK_POSITIONS].float()
        goal = target[:, p : p + LOSS_CHUNK_POSITIONS]
        total += float(
            torch.nn.functional.cross_entropy(
                part.reshape(-1, part.shape[-1]),
                goal.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            )
        )
        count += int((goal != IGNORE).sum())
    return total, count


def mean_token_loss(model: Any, samples: Sequence[Sample], pad_id: int, batch_size: int) -> float:
    """Mean negative log-likelihood per labelled token (every token weighs the same)."""
    import torch

    collate = Collator(pad_id)
    total, count = 0.0, 0
    device = next(model.parameters()).device
    vocab = int(model.get_output_embeddings().weight.shape[0])
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            group = samples[start : start + batch_size]
            step = rows_per_pass(group, vocab, batch_size)
            for first in range(0, len(group), step):
                chunk = group[first : first + step]
                batch = collate([{"input_ids": s.input_ids, "labels": s.labels} for s in chunk])
                loss, tokens = batch_loss(model, {k: v.to(device) for k, v in batch.items()})
                total += loss
                count += tokens
    return total / count if count else float("nan")


def batch_loss(model: Any, batch: dict[str, Any]) -> tuple[float, int]:
    """(summed NLL, labelled tokens) of one collated batch already on the model's device:
    `atri eval`'s sum, and `atri train`'s held-out loss (model/training/held_out_loss.py),
    so the two weigh every token alike."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs).logits
    return summed_loss(logits[:, :-1], batch["labels"][:, 1:])


def perplexity(loss: float) -> float | None:
    return math.exp(loss) if math.isfinite(loss) else None

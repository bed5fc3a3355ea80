"""Held-out loss and perplexity over ATRI's (labelled) tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from model.training.dataset import IGNORE, Collator, Sample


def mean_token_loss(model: Any, samples: Sequence[Sample], pad_id: int, batch_size: int) -> float:
    """Mean negative log-likelihood per labelled token (every token weighs the same)."""
    import torch

    collate = Collator(pad_id)
    total, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            batch = collate([{"input_ids": s.input_ids, "labels": s.labels} for s in chunk])
            batch = {k: v.to(device) for k, v in batch.items()}
            labels = batch.pop("labels")
            logits = model(**batch).logits[:, :-1].float()
            target = labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                target.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            )
            total += float(loss)
            count += int((target != IGNORE).sum())
    return total / count if count else float("nan")


def perplexity(loss: float) -> float | None:
    return math.exp(loss) if math.isfinite(loss) else None

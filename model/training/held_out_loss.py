"""The Trainer `atri train` runs: its held-out loss weighs every reply token once.

Trainer's evaluation averages each batch's mean loss, so a batch of short replies counts as
much as one of long ones and the loss moves with the batch size; `atri eval`'s
`mean_token_loss` sums over tokens. The manifest's eval_loss and base_eval_loss, the loss
curve, early stopping's best checkpoint and `atri adapters list` all read this one, so it
is `atri eval`'s sum, batch by batch.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer

from model.evaluation.perplexity import batch_loss


class TokenWeightedTrainer(Trainer):  # type: ignore[misc]
    """Trainer whose `eval_loss` is the mean loss per labelled token of the held-out set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_out_nll = 0.0
        self._held_out_tokens = 0

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        self._held_out_nll, self._held_out_tokens = 0.0, 0
        output = super().evaluation_loop(
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
        )
        tokens = self._held_out_tokens
        # The loop's own loss is the mean of batch means: replaced by the sum over tokens.
        loss = self._held_out_nll / tokens if tokens else float("nan")
        return output._replace(
            metrics={**(output.metrics or {}), f"{metric_key_prefix}_loss": loss}
        )

    def prediction_step(
        self,
        model: Any,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[Any, None, None]:
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            nll, tokens = batch_loss(model, inputs)
        self._held_out_nll += nll
        self._held_out_tokens += tokens
        mean = nll / tokens if tokens else float("nan")
        return torch.tensor(mean, device=self.args.device), None, None

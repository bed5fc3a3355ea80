"""Held-out loss in chunks: the same number as one full-vocabulary pass, in less memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.evaluation import perplexity
from model.evaluation.perplexity import mean_token_loss
from model.training.dataset import IGNORE, tokenize_dataset
from model.training.sharegpt import Conversation
from tests.model.training.sharegpt import SYSTEM_ZH


def full_pass_loss(model: torch.nn.Module, samples: list, pad_id: int) -> float:
    """The plain way: every row at once, all logits in fp32."""
    width = max(len(s) for s in samples)
    ids = torch.tensor([s.input_ids + [pad_id] * (width - len(s)) for s in samples])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in samples])
    labels = torch.tensor([s.labels + [IGNORE] * (width - len(s)) for s in samples])
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    return float(
        torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE
        )
    )


def test_chunked_loss_equals_one_full_pass(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    convs = [
        Conversation(SYSTEM_ZH, (("user", f"问题{i}"), ("assistant", "回答" * (3 + 2 * i))))
        for i in range(5)
    ]
    samples = tokenize_dataset(tokenizer, convs, 512).samples
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    expected = full_pass_loss(model, samples, pad)

    rows: list[int] = []
    model.register_forward_hook(
        lambda _m, args, kwargs, _o: rows.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    assert mean_token_loss(model, samples, pad, 8) == pytest.approx(expected, rel=1e-5)
    assert rows == [5]  # small logits: one pass, as before

    # A budget of one row's logits and 3-position fp32 chunks: one row per pass.
    rows.clear()
    vocab = model.get_output_embeddings().weight.shape[0]
    longest = max(len(s) for s in samples)
    monkeypatch.setattr(perplexity, "LOGITS_BUDGET", longest * vocab)
    monkeypatch.setattr(perplexity, "LOSS_CHUNK_POSITIONS", 3)
    assert mean_token_loss(model, samples, pad, 8) == pytest.approx(expected, rel=1e-5)
    assert rows == [1] * 5

"""`atri train`'s held-out loss weighs every reply token once, as `atri eval`'s does.

Trainer's evaluation averaged each batch's mean loss: the same model on the same held-out
conversations gave base_eval_loss 2.42378 at batch 4 and 2.49878 at batch 2, while `atri
eval`'s `mean_token_loss` gave 2.39696, so the manifest's perplexity was not `atri eval`'s.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings, load_settings
from model.engines.loading import load_base_model
from model.engines.local import LocalEngine
from model.evaluation.perplexity import mean_token_loss
from model.training.dataset import Collator, Sample, tokenize_dataset
from model.training.runner import train
from model.training.sharegpt import load_sharegpt
from tests.model.training.sharegpt import SYSTEM_ZH, ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config

# Replies of very different lengths, so a batch's mean is far from the mean per token.
SHORT = conversation([("嗯", "好")], SYSTEM_ZH)
LONG = conversation(ZH_PAIRS, SYSTEM_ZH)
HELD_OUT = [SHORT, SHORT, SHORT, LONG, LONG, LONG]


def confident_model(tiny_model_dir: Path, folder: Path) -> Path:
    """The tiny model with its output head scaled up: a random model's loss is about
    log(vocabulary) at every token, which any weighing averages alike; this one's varies."""
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(tiny_model_dir, folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(30)
    model.save_pretrained(folder)
    return folder


def batch_means_loss(model: Any, samples: list[Sample], pad_id: int, batch_size: int) -> float:
    """What Trainer.evaluate recorded: each batch's mean loss, weighed by its rows."""
    import torch

    collate = Collator(pad_id)
    losses: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            group = samples[start : start + batch_size]
            batch = collate([{"input_ids": s.input_ids, "labels": s.labels} for s in group])
            losses += [float(model(**batch).loss)] * len(group)
    return sum(losses) / len(losses)


def test_the_held_out_loss_is_atri_evals_at_any_batch_size(
    tmp_path: Path, tiny_model_dir: Path, tiny_settings: Settings
) -> None:
    base_dir = confident_model(tiny_model_dir, tmp_path / "confident")
    tiny_settings.model.base = str(base_dir)
    held_out = tmp_path / "data" / "atri_sharegpt_eval.json"
    manifests: dict[int, dict[str, Any]] = {}
    versions: dict[int, Path] = {}
    # Batch 1 with early stopping (the best checkpoint reloaded, then evaluated again);
    # batch 4 without (the last step's loss kept), its last batch of 2 rows.
    for batch_size, patience in ((1, 1), (4, 0)):
        config = write_config(
            tmp_path,
            base_dir,
            max_steps=1,
            eval_steps=1,
            batch_size=batch_size,
            gradient_accumulation=1,
            early_stopping_patience=patience,
        )
        write(held_out, HELD_OUT)
        result = train(load_settings(config))
        manifests[batch_size], versions[batch_size] = result.manifest, result.version_dir

    loaded = load_base_model(tiny_settings)
    pad = loaded.tokenizer.pad_token_id
    samples = tokenize_dataset(loaded.tokenizer, load_sharegpt(held_out), 1024).samples
    base = mean_token_loss(loaded.model, samples, pad, 8)
    # What the runs recorded before: apart from the loss per token, and from each other.
    for batch_size in manifests:
        old = batch_means_loss(loaded.model, samples, pad, batch_size)
        assert old != pytest.approx(base, rel=1e-3)
    for manifest in manifests.values():
        assert manifest["base_eval_loss"] == pytest.approx(base, rel=1e-5)

    engine = LocalEngine(loaded, 4096)
    for batch_size, version in versions.items():
        engine.load_adapter_sync(version, version.name)
        engine.activate_sync(version.name)
        adapted = mean_token_loss(engine.model, samples, pad, 8)
        assert manifests[batch_size]["eval_loss"] == pytest.approx(adapted, rel=1e-5)

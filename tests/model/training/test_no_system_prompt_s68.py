"""A dataset whose records have no system prompt is trained and served alike.

Such records trained under the chat template's own default prompt (Qwen2.5's "You are
Qwen…", SmolLM's "You are a helpful AI assistant named SmolLM…"), the manifest recorded
system_prompt "", and the worker then served the version under the whole character card.
They now train under `[persona] training_prompt` filled in, as `atri prep` writes it, and
the manifest records that prompt, which the worker serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from atri.config import load_settings
from model.adapters.validation import read_version
from model.character.persona import configured_persona
from model.training.dataset import IGNORE
from model.training.runner import train
from tests.model.training.sharegpt import ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config

NO_SYSTEM = [conversation([ZH_PAIRS[i % 4]], "") for i in range(8)]


class RowsSeen(TrainerCallback):  # type: ignore[misc]
    """The text before the first trained token of the first training and held-out rows."""

    def __init__(self) -> None:
        self.prompts: dict[str, str] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._first_row("train", kwargs["train_dataloader"].dataset, kwargs["processing_class"])

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._first_row("eval", kwargs["eval_dataloader"].dataset, kwargs["processing_class"])

    def _first_row(self, which: str, rows: Any, tokenizer: Any) -> None:
        row = rows[0]
        first = next(i for i, label in enumerate(row["labels"]) if label != IGNORE)
        self.prompts[which] = tokenizer.decode(row["input_ids"][:first])


def test_records_without_a_system_prompt_train_under_the_training_prompt(
    tmp_path: Path, tiny_qwen2_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_qwen2_dir, max_steps=1, gradient_accumulation=1)
    write(tmp_path / "data" / "atri_sharegpt.json", NO_SYSTEM)
    write(tmp_path / "data" / "atri_sharegpt_eval.json", NO_SYSTEM[:2])
    settings = load_settings(config)
    filled = configured_persona(settings).training_prompt(settings.persona.training_prompt)
    assert "亚托莉" in filled and "{{char}}" not in filled

    seen = RowsSeen()
    said: list[str] = []
    result = train(settings, callbacks=[seen], notify=said.append)

    assert result.manifest["system_prompt"] == filled
    # The manifest as the worker's reload reads it, to serve the version with.
    version = read_version(result.version_dir.parent, result.version_dir.name)
    assert version.manifest.system_prompt == filled
    for which in ("train", "eval"):
        # The tokens trained (and scored) begin with it, not the template's "You are Qwen".
        assert seen.prompts[which].startswith(f"<|im_start|>system\n{filled}<|im_end|>\n"), which
        assert "Qwen" not in seen.prompts[which]
    [note] = [m for m in said if "no system prompt" in m]
    assert "[persona] training_prompt" in note and filled in note

"""`[train] max_seq_length` past the positions the model was built for: a GPT-2 (1024
learned positions) stopped in an IndexError traceback from its embedding. Samples are
fitted to the model's positions, and the run says so."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import GPT2Config, LlamaConfig

from atri.config import load_settings
from model.training.data_files import length_the_model_takes
from model.training.runner import train
from tests.model.training.test_train_eval import write_config


@pytest.mark.parametrize(
    "config", [GPT2Config(n_positions=1024), LlamaConfig(max_position_embeddings=1024)]
)
def test_samples_are_fitted_to_the_models_positions(config: object) -> None:
    said: list[str] = []
    model = SimpleNamespace(config=config)
    assert length_the_model_takes(4096, model, said.append) == 1024
    assert said == [
        "[train] max_seq_length = 4096 is more than the 1024 positions the model was built "
        "for: samples are fitted to 1024 tokens."
    ]
    assert length_the_model_takes(1024, model, said.append) == 1024
    assert length_the_model_takes(512, model, said.append) == 512 and len(said) == 1


def test_a_model_that_names_no_positions_keeps_the_setting() -> None:
    said: list[str] = []
    assert length_the_model_takes(4096, SimpleNamespace(config=object()), said.append) == 4096
    assert not said


def test_a_run_past_the_models_positions_says_so_and_trains(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """The tiny Llama is built for 4096 positions."""
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, max_seq_length=8192)
    said: list[str] = []
    result = train(load_settings(config), notify=said.append)
    assert result.version_dir.is_dir()
    assert any("samples are fitted to 4096 tokens" in line for line in said)

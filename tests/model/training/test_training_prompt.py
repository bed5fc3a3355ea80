"""The one system prompt a version is trained and served with: a dataset whose records
differ is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.training.sharegpt import DatasetError, load_sharegpt, training_prompt
from tests.cli_output import says
from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write, zh_dataset
from tests.model.training.test_train_eval import write_config

MIXED = [
    *(conversation([("你是谁？", "我是亚托莉！")], "") for _ in range(3)),
    conversation([("Who are you?", "Bob.")], "You are Bob."),
]


def test_a_dataset_of_mixed_system_prompts_is_one_sentence(tmp_path: Path) -> None:
    """Three records without a prompt and one with "You are Bob." trained the three under
    the chat template's default prompt, then served the version as Bob."""
    write(tmp_path / "mixed.json", MIXED)
    with pytest.raises(DatasetError) as caught:
        training_prompt(load_sharegpt(tmp_path / "mixed.json"), tmp_path / "mixed.json")
    assert str(caught.value) == (
        f"{tmp_path / 'mixed.json'}: its records have 2 different system prompts (3 with "
        'none, 1 with "You are Bob."), but a version is served under the one prompt it was '
        'trained with: give every record the same "system" (or none), e.g. rerun `atri prep`.'
    )
    write(tmp_path / "same.json", zh_dataset(3))
    assert training_prompt(load_sharegpt(tmp_path / "same.json"), Path("same.json")) == SYSTEM_ZH
    write(tmp_path / "none.json", MIXED[:3])
    assert training_prompt(load_sharegpt(tmp_path / "none.json"), Path("none.json")) == ""


def test_atri_train_refuses_mixed_system_prompts_before_it_starts(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir, max_steps=1)
    write(tmp_path / "data" / "atri_sharegpt.json", MIXED)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    assert says(result.output, "its records have 2 different system prompts (3 with none")
    assert not (tmp_path / "adapters").exists()  # stopped before any run folder or version

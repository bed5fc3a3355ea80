"""`[persona] training_prompt` changed after `atri prep`: the key does not reach the
version (it trains, and is served, under the prompt the samples carry), and training
said nothing of it."""

from __future__ import annotations

from pathlib import Path

from atri.config import load_settings
from model.character.persona import configured_persona
from model.training.data_files import other_prompt_note
from model.training.runner import train
from tests.model.training.sharegpt import ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config

FILE = Path("data/atri_sharegpt.json")


def test_a_prompt_the_key_no_longer_says_is_named_with_the_one_it_says() -> None:
    said = other_prompt_note("你是亚托莉。", "你是亚托莉，机器人少女。", FILE)
    assert said.startswith(f'{FILE}: its samples carry the system prompt "你是亚托莉。"')
    assert '"你是亚托莉，机器人少女。"' in said and "atri prep" in said
    assert other_prompt_note("你是亚托莉。", "你是亚托莉。\n", FILE) == ""
    assert other_prompt_note("", "你是亚托莉。", FILE) == ""  # none: they take the key's


def test_training_says_so_and_trains_under_the_samples_prompt(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir, max_steps=1, gradient_accumulation=1)
    settings = load_settings(config)
    prepared = configured_persona(settings).training_prompt(settings.persona.training_prompt)
    rows = [conversation([ZH_PAIRS[i % 4]], prepared) for i in range(8)]
    write(tmp_path / "data" / "atri_sharegpt.json", rows)
    write(tmp_path / "data" / "atri_sharegpt_eval.json", rows[:2])
    said: list[str] = []
    train(settings, notify=said.append)
    assert not [m for m in said if "as set now" in m]  # prepared under the key as it is

    settings.persona.training_prompt = "扮演{{char}}，和{{user}}聊天。"
    said.clear()
    result = train(settings, notify=said.append)
    [note] = [m for m in said if "as set now" in m]
    assert "扮演亚托莉，和{{user}}聊天。" in note
    assert result.manifest["system_prompt"] == prepared

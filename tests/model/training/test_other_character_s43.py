"""`atri train` tells when the samples' system prompt names another character than the
configured card's: a short name found inside another word ("Al" in "Alice", 莉 in 亚托莉)
hid that."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DEFAULT_TRAINING_PROMPT
from model.character.persona import Persona
from model.training.data_files import other_character_note

FILE = Path("data/dataset/atri_sharegpt.json")


def prep_prompt(name: str, language: str, template: str = DEFAULT_TRAINING_PROMPT) -> str:
    """The system prompt `atri prep` writes for a card of `name` speaking `language`."""
    return Persona(name=name, language=language).training_prompt(template)


def note(prompt: str, *names: str, template: str = DEFAULT_TRAINING_PROMPT) -> str:
    return other_character_note(prompt, names[0], names, FILE, template)


@pytest.mark.parametrize(
    ("prepared_for", "language", "configured"),
    [
        ("亚托莉", "zh", "莉"),
        ("小雨", "zh", "小"),
        ("月光", "ja", "月"),
        ("Alice", "en", "Al"),
    ],
)
def test_a_name_inside_the_prompts_name_is_another_character(
    prepared_for: str, language: str, configured: str
) -> None:
    said = note(prep_prompt(prepared_for, language), configured)
    assert f"does not name {configured}, the configured character" in said


@pytest.mark.parametrize(("name", "language"), [("月", "zh"), ("月", "ja"), ("Al", "en")])
def test_her_own_prompt_names_her_however_short_her_name(name: str, language: str) -> None:
    assert note(prep_prompt(name, language), name, "Other") == ""


def test_the_configured_template_is_read_as_prep_filled_it() -> None:
    template = "扮演{{char}}，和{{user}}聊天。"
    xiaoyu = prep_prompt("小雨", "zh", template)
    assert "does not name 小" in note(xiaoyu, "小", template=template)
    assert note(xiaoyu, "小雨", template=template) == ""


def test_a_hand_written_prompt_names_her_as_a_whole_word() -> None:
    assert "does not name Al" in note("Also, you are a robot girl.", "Al")
    assert note("You are Al, a robot boy.", "Al") == ""
    # No word boundary beside Chinese letters: her name anywhere names her.
    assert note("你是亚托莉，高性能的机器人少女。", "ATRI", "亚托莉") == ""

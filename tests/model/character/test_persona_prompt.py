"""The character card, the prompt built from it, and reply cleaning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.character.persona import PersonaError, load_persona
from model.character.prompt import clean_reply


def test_packaged_card_builds_a_system_prompt() -> None:
    persona = load_persona()
    prompt = persona.system_prompt("Kaito")
    assert persona.name == "亚托莉"
    assert "Kaito" in prompt and "{{user}}" not in prompt and "{{char}}" not in prompt
    assert "高性能" in prompt
    assert persona.greeting_for("Kaito").startswith("早上好，Kaito")
    # What the worker and the training data use: one prompt for everyone.
    shared = persona.system_prompt()
    assert "{{user}}" in shared and "{{char}}" not in shared and persona.name in shared


def test_card_v2_round_trip(tmp_path: Path) -> None:
    persona = load_persona()
    card = persona.to_card_v2()
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    assert card["data"]["first_mes"] == persona.greeting.strip()
    path = tmp_path / "atri.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    again = load_persona(path)
    assert again.name == persona.name
    assert again.example_dialogue == persona.example_dialogue
    assert again.speech_style.strip() == persona.speech_style.strip()
    assert again.system_prompt("x") == persona.system_prompt("x")


def test_card_from_sillytavern_without_our_extensions(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Atri",
            "description": "A robot girl.",
            "first_mes": "Hello, {{user}}!",
            "mes_example": "<START>\n{{user}}: Hi\n{{char}}: I'm high-performance!",
        },
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    persona = load_persona(path)
    assert persona.greeting_for("Kaito") == "Hello, Kaito!"
    assert persona.example_dialogue[0].atri == "I'm high-performance!"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"spec": "something_else"}', "not a Character Card V2"),
        ("{not json", "not valid"),
    ],
)
def test_bad_cards_are_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PersonaError, match=message):
        load_persona(path)
    with pytest.raises(PersonaError, match="cannot be read"):
        load_persona(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<think>let me plan</think>早上好！", "早上好！"),
        ("<think>unfinished thoughts", ""),
        ("Hello!<|im_end|>", "Hello!"),
        ("亚托莉：我可是高性能的！", "我可是高性能的！"),
        ("Sure!\n<|im_start|>user\nmore", "Sure!"),
        ("  plain  ", "plain"),
    ],
)
def test_clean_reply(raw: str, clean: str) -> None:
    assert clean_reply(raw, "亚托莉") == clean

"""The character card, the prompt built from it, and reply cleaning."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from model.character.ooc import detect_language
from model.character.persona import (
    PersonaError,
    canned_lines,
    configured_persona,
    default_user_name,
    load_persona,
    reply_lines,
)
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


def test_japanese_sillytavern_card_with_full_width_colons(tmp_path: Path) -> None:
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "アトリ",
            "description": "高性能なロボット少女。海に沈みゆく町で夏生と暮らす。",
            "first_mes": "おはようございます、{{user}}さん！",
            "mes_example": "<START>\n{{user}}：起きてる？\n{{char}}：もちろんです！高性能ですから！",
        },
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    persona = load_persona(path)
    assert persona.main_language == "ja"
    assert [(t.user, t.atri) for t in persona.example_dialogue] == [
        ("起きてる？", "もちろんです！高性能ですから！")
    ]
    assert "【会話例】\n{{user}}：起きてる？\nアトリ：もちろんです！" in persona.system_prompt()


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


def test_packaged_card_speaks_english_too() -> None:
    card = load_persona()
    assert card.languages == ["zh", "en"]
    english = card.in_language("en")
    assert english.name == "ATRI" and "亚托莉" in english.aliases
    prompt = english.system_prompt()
    assert prompt.startswith("You are ATRI.") and "{{user}}" in prompt
    assert detect_language(prompt) == "en" and detect_language(english.greeting) == "en"
    assert detect_language(english.lines.busy) == "en" and english.user_name == "Natsuki"
    assert card.in_language("zh").system_prompt() == card.system_prompt()
    with pytest.raises(PersonaError, match='no "ja" version'):
        card.in_language("ja")


def test_language_auto_is_english_only_on_the_offline_model(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert settings.model.base == OFFLINE_DEFAULT_BASE
    offline = configured_persona(settings)
    assert offline.name == "ATRI" and offline.main_language == "en"
    assert reply_lines(offline, settings).busy.startswith("Uu...")
    assert default_user_name(offline, settings) == "Natsuki"

    settings.model.base = "/models/Qwen2.5-7B-Instruct"
    real = configured_persona(settings)
    assert real.name == "亚托莉" and real.main_language == "zh"
    assert reply_lines(real, settings).busy == settings.worker.busy_reply
    assert default_user_name(real, settings) == "夏生"

    settings.persona.language = "en"  # chosen by hand: English on any model
    settings.worker.busy_reply = "稍等！"  # a line of one's own stays as written
    chosen = configured_persona(settings)
    assert chosen.name == "ATRI" and reply_lines(chosen, settings).busy == "稍等！"

    settings.persona.language = "ja"
    with pytest.raises(PersonaError, match=r'atri\.toml: the character card has no "ja"'):
        configured_persona(settings)


def test_a_card_v2_keeps_its_own_language(tmp_path: Path) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Atri", "description": "A robot girl."}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    persona = configured_persona(settings)  # offline model, English card: English
    assert persona.main_language == "en" and persona.system_prompt().startswith("You are Atri.")
    chinese = {"spec": "chara_card_v2", "data": {"name": "亚托莉", "description": "机器人少女。"}}
    (tmp_path / "card.json").write_text(json.dumps(chinese), encoding="utf-8")
    persona = configured_persona(settings)  # no English version: her own language
    assert persona.main_language == "zh" and persona.system_prompt().startswith("你是亚托莉")
    # No lines of its own: the [worker] lines as configured.
    assert reply_lines(persona, settings).error == settings.worker.error_reply


def test_the_default_training_prompt_is_said_in_her_language() -> None:
    from atri.config import DEFAULT_TRAINING_PROMPT

    card = load_persona()
    assert card.training_prompt(DEFAULT_TRAINING_PROMPT).startswith("你是亚托莉。")
    english = card.in_language("en")
    assert english.training_prompt(DEFAULT_TRAINING_PROMPT).startswith("You are ATRI. ")
    assert english.training_prompt("{{char}} and {{user}}") == "ATRI and {{user}}"


@pytest.mark.parametrize(
    ("name", "description", "language"),
    [
        ("Yuki", "A girl who lives in the snow.", "en"),
        ("雪", "住在雪山里的女孩。", "zh"),
        ("ユキ", "雪国に住んでいる女の子です。", "ja"),
    ],
)
def test_a_card_without_lines_says_them_in_its_language_with_its_name(
    tmp_path: Path, name: str, description: str, language: str
) -> None:
    """A SillyTavern card has no busy, error or empty-message lines: she says generic
    ones in her own language and with her own name, never ATRI's Chinese lines."""
    card = {"spec": "chara_card_v2", "data": {"name": name, "description": description}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    said = canned_lines(settings)
    for text in (said.busy, said.error, said.empty):
        assert name in text and "亚托莉" not in text and "ATRI" not in text, text
        assert "{{char}}" not in text and detect_language(text) == language, text
    settings.worker.error_reply = "Oops, say that again?"  # a line of one's own, as written
    assert canned_lines(settings).error == "Oops, say that again?"
    assert canned_lines(settings).busy == said.busy


@pytest.mark.parametrize("blanks", ["\n", " \n", "\n\t"])
def test_clean_reply_of_thousands_of_blank_lines_is_quick(blanks: str) -> None:
    # A model stuck on newlines: `\n\s*` tried at every newline took 3-12 s for 20,000.
    raw = "早上好。" + blanks * 10_000 + "再见"
    started = time.perf_counter()
    assert clean_reply(raw, "亚托莉") == raw.strip()
    assert clean_reply(raw + "\nuser\n你好", "亚托莉") == raw.strip()
    assert time.perf_counter() - started < 0.5

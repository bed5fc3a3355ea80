"""Lorebook entries in group chats and in every script: keys are looked for in what the
room said as well as in the conversation, whole words are whole in any script written
with spaces (CJK keys are found inside a sentence), and SillyTavern's `position` puts an
entry where a card's author expects it, or one warning at load says where it went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.character.persona import Persona, load_persona


def card(tmp_path: Path, entries: list[dict[str, Any]], **book: Any) -> Persona:
    data = {
        "name": "Aqua",
        "description": "{{char}} is a goddess.",
        "character_book": {"entries": entries, **book},
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return load_persona(path)


def keyed(key: str, content: str, **fields: Any) -> dict[str, Any]:
    return {"keys": [key], "content": content, **fields}


def told(persona: Persona, *messages: str) -> list[str]:
    return persona.called_up_lore(list(messages))


def test_whole_words_in_cyrillic_and_greek(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        [keyed("магия", "Magiya."), keyed("Ёлка", "Yolka."), keyed("μαγεία", "Mageia.")],
    )
    assert told(persona, "Это магия!") == ["Magiya."]
    assert told(persona, "МАГИЯ, говорю") == ["Magiya."]  # any case
    assert told(persona, "с магиями и чародейством") == []  # inside a longer word
    assert told(persona, "под ёлкой") == []
    assert told(persona, "ЁЛКА горит") == ["Yolka."]
    assert told(persona, "η μαγεία είναι εδώ") == ["Mageia."]
    assert told(persona, "ΜΑΓΕΊΑ!") == ["Mageia."]
    assert told(persona, "της μαγείας") == []
    # A word of another script around it is no part of it: "магия" is whole in "магия-x".
    assert told(persona, "magic-магия") == ["Magiya."]
    assert told(persona, "магияx") == []


def test_keys_of_chinese_and_japanese_are_found_inside_a_sentence(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        [
            keyed("魔法", "Mahou."),
            keyed("東京", "Tokyo."),
            keyed("コーヒー", "Coffee."),
            keyed("ATRI", "Atri."),
        ],
    )
    assert told(persona, "我最喜欢魔法少女了") == ["Mahou."]
    assert told(persona, "東京タワーに行こう") == ["Tokyo."]
    assert told(persona, "コーヒーを飲みたい") == ["Coffee."]
    # ー is Japanese (its script is "common"): a Latin word after it does not make the key
    # part of a longer word.
    assert told(persona, "コーヒーshop") == ["Coffee."]
    # A Latin key beside Chinese or Japanese is a whole word; inside a Latin word it is not.
    assert told(persona, "我喜欢ATRI酱") == ["Atri."]
    assert told(persona, "ATRIは") == ["Atri."]
    assert told(persona, "MATRIX") == []


def test_any_case_is_full_case_and_composed_text_matches(tmp_path: Path) -> None:
    persona = card(tmp_path, [keyed("Straße", "Street."), keyed("café", "Cafe.")])
    assert told(persona, "DIE STRASSE") == ["Street."]
    # "é" typed as "e" and a combining accent is the same word; "cafe" without it is not.
    assert told(persona, "le cafe\u0301 noir") == ["Cafe."]
    assert told(persona, "le cafe noir") == []

"""Session 67: a Character Card V3 was exported labelled `chara_card_v2` / "2.0", its V3
fields (nickname, assets, group greetings) under a spec that does not define them."""

from __future__ import annotations

import json
from pathlib import Path

from model.character.persona import load_persona

V3 = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        "name": "Eileen Grey",
        "nickname": "Eileen",
        "description": "A witch.",
        "first_mes": "Hello, {{user}}.",
        "group_only_greetings": ["Hello, everyone."],
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "creator_notes_multilingual": {"en": "Be kind."},
        "extensions": {},
    },
}


def exported(tmp_path: Path, card: dict) -> dict:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    return load_persona(path).to_card_v2()


def test_a_v3_card_is_exported_as_v3_with_its_fields(tmp_path: Path) -> None:
    card = exported(tmp_path, V3)
    assert (card["spec"], card["spec_version"]) == ("chara_card_v3", "3.0")
    assert card["data"] == V3["data"]
    again = tmp_path / "again"
    again.mkdir()
    assert exported(again, card) == card  # read back, the same card


def test_a_v2_card_stays_v2(tmp_path: Path) -> None:
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Aqua"}}
    card = exported(tmp_path, v2)
    assert (card["spec"], card["spec_version"]) == ("chara_card_v2", "2.0")

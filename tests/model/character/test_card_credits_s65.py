"""Another character's card is exported with its own credit and labels: `to_card_v2`
stamped every card with ATRI's tags, creator and notes (an imported card's own creator
overwritten). A TOML card writes her example lines as `char`, not `atri`."""

from __future__ import annotations

import json
from pathlib import Path

from model.character.persona import load_persona


def card_v2(**data: object) -> dict[str, object]:
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Sayori", "description": "A cheerful girl.", **data},
    }


def exported(path: Path) -> dict[str, object]:
    data = load_persona(path).to_card_v2()["data"]
    assert isinstance(data, dict)
    return data


def test_an_imported_cards_credit_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "sayori.json"
    card = card_v2(creator="fan", creator_notes="Made for my club.", tags=["ddlc"])
    path.write_text(json.dumps(card | {"data": card["data"] | {"character_version": 2}}))
    data = exported(path)
    assert (data["creator"], data["creator_notes"], data["tags"]) == (
        "fan",
        "Made for my club.",
        ["ddlc"],
    )
    assert data["character_version"] == "2"  # a number, as some tools write it, still loads


def test_a_card_without_credit_says_nothing_of_atri(tmp_path: Path) -> None:
    path = tmp_path / "nanami.toml"
    path.write_text(
        'name = "七海"\ndescription = "幼なじみ。"\n'
        '[[example_dialogue]]\nuser = "おはよう"\nchar = "おはよう、悠真くん！"\n',
        encoding="utf-8",
    )
    persona = load_persona(path)
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        ("おはよう", "おはよう、悠真くん！")
    ]
    text = json.dumps(persona.to_card_v2()["data"], ensure_ascii=False)
    assert "ATRI" not in text and "亚托莉" not in text
    assert '"tags": []' in text and '"creator": ""' in text


def test_atris_card_keeps_its_credit_in_every_language() -> None:
    card = load_persona()
    for language in card.languages:
        data = card.in_language(language).to_card_v2()["data"]
        assert data["creator"] == "ATRI project" and "ATRI" in data["tags"], language


def test_a_toml_card_with_atri_example_lines_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.toml"
    path.write_text(
        'name = "Eileen"\n[[example_dialogue]]\nuser = "Hi"\natri = "Hello."\n', encoding="utf-8"
    )
    assert [t.char for t in load_persona(path).example_dialogue] == ["Hello."]

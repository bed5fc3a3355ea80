"""SillyTavern fills `{{time}}`, `{{date}}`, `{{weekday}}`… with the moment's value; ATRI
fills only `{{char}}` and `{{user}}`, so a card using the others showed her "It is {{time}}
on {{weekday}}" with no word to the operator. Loading such a card says so."""

from __future__ import annotations

import json
from pathlib import Path

from model.character.persona import load_persona


def v2_card(path: Path, description: str, greeting: str = "Hi!") -> Path:
    data = {"name": "Mio", "description": description, "first_mes": greeting}
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return path


def test_a_card_with_time_macros_says_they_are_not_filled(tmp_path: Path) -> None:
    card = v2_card(
        tmp_path / "mio.json",
        "It is {{time}} on {{weekday}}, {{date}} right now. {{char}} greets {{user}}.",
        "Welcome back after {{idle_duration}}!",
    )
    persona = load_persona(card)
    [note] = [n for n in persona.unused if "macros ATRI does not fill" in n]
    assert note.startswith("{{time}}, {{weekday}}, {{date}}, {{idle_duration}}:")
    assert "{{char}}" not in note.split(":")[0] and "{{user}}" not in note.split(":")[0]


def test_cards_with_only_the_filled_macros_get_no_note(tmp_path: Path) -> None:
    card = v2_card(tmp_path / "mio.json", "{{char}} is a robot who loves {{user}}.")
    assert not [n for n in load_persona(card).unused if "macros" in n]
    assert not [n for n in load_persona().unused if "macros" in n]  # ATRI's own card

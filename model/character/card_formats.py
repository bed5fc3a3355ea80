"""Character cards in the shapes other tools write, read as the Character Card V2 that
`Persona.from_card_v2` reads, the way SillyTavern's importer
(src/endpoints/characters.js) reads them:

- V1 (TavernAI): the V2 fields flat at the top, with no `spec`;
- Pygmalion / Gradio (text-generation-webui): `char_name`, `char_persona`,
  `world_scenario`, `char_greeting`, `example_dialogue`.

Standard library only.
"""

from __future__ import annotations

from typing import Any

CARD_SPECS = ("chara_card_v2", "chara_card_v3")

# The V2 fields a V1 card holds at its top level (V2 put them under `data`).
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")

# Pygmalion field -> V2 field, as SillyTavern maps them (it has no personality of its own).
_PYGMALION_FIELDS = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}


class CardFormatError(ValueError):
    """Why a file holds no readable card: a sentence the card loader puts its path to."""


def as_card_v2(card: Any) -> Any:
    """`card` in the V2 shape: a V1 or Pygmalion card converted, anything else as it is
    (a V2 or V3 card, or something `from_card_v2` refuses in its own words)."""
    if not isinstance(card, dict) or "spec" in card:
        return card
    if "name" in card:
        data = {key: card.get(key) for key in _V1_FIELDS}
    elif "char_name" in card:
        data = {v2: card.get(key) for key, v2 in _PYGMALION_FIELDS.items()}
    else:
        return card
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}

"""Character cards in the shapes other tools write (V1, Pygmalion, RisuAI .charx), their
macros, and their names: read as SillyTavern's importer reads them."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image, PngImagePlugin

from model.character.persona import load_persona

V1 = {
    "name": "Evelyn",
    "description": "A sharp-witted detective in Victorian London.",
    "personality": "Perceptive",
    "scenario": "The British Museum",
    "first_mes": "Ah, you must be my new assistant, {{user}}.",
    "mes_example": "<START>\n{{user}}: What happened here?\n{{char}}: Foul play.",
}


def write_json(tmp_path: Path, card: object, name: str = "card.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    return path


def png_with_chara(card: object) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("chara", base64.b64encode(json.dumps(card).encode()).decode())
    out = io.BytesIO()
    Image.new("RGBA", (2, 2)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_a_v1_card_is_read_as_its_v2_fields(tmp_path: Path) -> None:
    """A V1 card (TavernAI's flat fields, no `spec`) was refused; SillyTavern imports it."""
    png = tmp_path / "evelyn.png"
    png.write_bytes(png_with_chara(V1))
    for path in (write_json(tmp_path, V1), png):
        persona = load_persona(path)
        assert persona.name == "Evelyn"
        assert persona.description == V1["description"]
        assert (persona.personality, persona.scenario) == ("Perceptive", "The British Museum")
        assert persona.greeting_for("Max") == "Ah, you must be my new assistant, Max."
        assert [(t.user, t.atri) for t in persona.example_dialogue] == [
            ("What happened here?", "Foul play.")
        ]


def test_a_pygmalion_card_is_read_as_sillytavern_maps_it(tmp_path: Path) -> None:
    """A Pygmalion / Gradio card (text-generation-webui's) was refused; SillyTavern maps
    char_persona to the description and world_scenario to the scenario."""
    card = {
        "char_name": "Evelyn",
        "char_persona": "A sharp-witted detective.",
        "world_scenario": "London",
        "char_greeting": "Ah, my new assistant, {{user}}.",
        "example_dialogue": "<START>\n{{user}}: Hi\n{{char}}: Hello.",
    }
    persona = load_persona(write_json(tmp_path, card))
    assert (persona.name, persona.description) == ("Evelyn", "A sharp-witted detective.")
    assert (persona.scenario, persona.personality) == ("London", "")
    assert persona.greeting_for("Max") == "Ah, my new assistant, Max."
    assert [(t.user, t.atri) for t in persona.example_dialogue] == [("Hi", "Hello.")]

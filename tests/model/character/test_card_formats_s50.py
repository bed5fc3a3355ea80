"""Character cards in the shapes other tools write (V1, Pygmalion, RisuAI .charx), their
macros, and their names: read as SillyTavern's importer reads them."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from model.character import card_formats
from model.character.persona import PersonaError, load_persona

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
        assert [(t.user, t.char) for t in persona.example_dialogue] == [
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
    assert [(t.user, t.char) for t in persona.example_dialogue] == [("Hi", "Hello.")]


def charx(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


V3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Aqua", "first_mes": "Hi!"}}


def test_a_risu_charx_card_is_read_from_its_card_json(tmp_path: Path) -> None:
    """A RisuAI .charx (a zip with card.json, V3) was read as TOML and refused as "not
    UTF-8 text… save it as UTF-8 in Notepad"."""
    path = tmp_path / "aqua.charx"
    path.write_bytes(charx({"card.json": json.dumps(V3).encode(), "assets/a.png": b"\x89PNG"}))
    persona = load_persona(path)
    assert (persona.name, persona.greeting) == ("Aqua", "Hi!")


def said(path: Path) -> str:
    with pytest.raises(PersonaError) as caught:
        load_persona(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and message.endswith(".") and ". " not in message
    assert "UTF-8" not in message and "Notepad" not in message
    return message


def test_a_charx_without_a_good_card_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "aqua.charx"
    path.write_bytes(charx({"assets/a.png": b"\x89PNG"}))
    assert "holds no card.json" in said(path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a readable zip" in said(path)
    path.write_bytes(charx({"card.json": b"{not json"}))
    assert "card.json is not card JSON" in said(path)
    # A zip bomb: card.json unpacks to far more than any card (here, than 1 KiB).
    monkeypatch.setattr(card_formats, "MAX_CHARX_CARD", 1024)
    path.write_bytes(charx({"card.json": json.dumps(V3).encode() + b" " * 2000}))
    assert "too large" in said(path)


def test_a_file_in_a_format_not_read_names_the_formats_read(tmp_path: Path) -> None:
    """A .webp or other binary file was told to be saved as UTF-8 in Notepad."""
    path = tmp_path / "aqua.webp"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 \xff\xfe")
    assert "no format ATRI reads" in said(path) and ".charx" in said(path)


def test_old_and_case_variant_macros_are_filled_in(tmp_path: Path) -> None:
    """TavernAI's <BOT>/<USER> and {{Char}}/{{USER}} (SillyTavern reads any case) were left
    raw in her prompt and greeting, and `<BOT>:` example lines were not examples."""
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "Aqua",
            "description": "<BOT> loves <user>. {{Char}} hates {{USER}}'s cooking.",
            "first_mes": "Hi <USER>, I'm <BOT>!",
            "mes_example": "<START>\n<USER>: Hi\n<BOT>: Hello, <USER>!\n{{User}}: Bye\n{{CHAR}}: Bye!",
        },
    }
    persona = load_persona(write_json(tmp_path, card))
    assert persona.greeting_for("Bob") == "Hi Bob, I'm Aqua!"
    prompt = persona.system_prompt("Bob")
    assert "Aqua loves Bob. Aqua hates Bob's cooking." in prompt
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        ("Hi", "Hello, {{user}}!"),
        ("Bye", "Bye!"),
    ]
    # The prompt the worker caches keeps {{user}} for every person alike.
    assert "<" not in persona.system_prompt() and "{{user}}" in persona.system_prompt()


def test_a_random_macro_is_picked_once_and_the_same_every_time(tmp_path: Path) -> None:
    """`{{random:a,b}}` and `{{random::a::b}}` were left raw. One option is picked when the
    card is read, the same each time it is read (every process builds the same system
    prompt: the cached prefix, and the prompt the adapter was trained with)."""
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "Aqua",
            "description": "A {{random:cheerful, grumpy}} girl with {{Random::red::blue, green}} hair.",
            "first_mes": "I'm {{random:cheerful, grumpy}} today!",
        },
    }
    path = write_json(tmp_path, card)
    persona = load_persona(path)
    mood = re.search(r"A (\w+) girl with (.+) hair\.", persona.description)
    assert mood and mood[1] in ("cheerful", "grumpy") and mood[2] in ("red", "blue, green")
    assert persona.greeting == f"I'm {mood[1]} today!"  # the same macro, the same pick
    assert all(load_persona(path).system_prompt() == persona.system_prompt() for _ in range(5))


def test_blanks_around_her_name_are_not_part_of_it(tmp_path: Path) -> None:
    """A name written "  Aqua  " made the prompt say "You are   Aqua  ."."""
    card = {"spec": "chara_card_v2", "data": {"name": "  Aqua  ", "first_mes": "I'm {{char}}."}}
    persona = load_persona(write_json(tmp_path, card))
    assert persona.name == "Aqua" and persona.greeting_for("Bob") == "I'm Aqua."
    assert persona.system_prompt().startswith("You are Aqua. ")
    v3 = {"spec": "chara_card_v3", "data": {"name": " Aqua the Goddess ", "nickname": " Aqua "}}
    persona = load_persona(write_json(tmp_path, v3))
    assert (persona.name, persona.aliases) == ("Aqua", ["Aqua the Goddess"])
    (tmp_path / "card.toml").write_text('name = "  Aqua "\n', encoding="utf-8")
    assert load_persona(tmp_path / "card.toml").name == "Aqua"
    # A title in the name stays, as SillyTavern uses it ({{char}} is the whole name).
    titled = {"spec": "chara_card_v2", "data": {"name": "ATRI - My Dear Moments"}}
    assert load_persona(write_json(tmp_path, titled)).name == "ATRI - My Dear Moments"


def test_macros_that_stand_for_no_text_leave_none_in_her_prompt() -> None:
    """An author's `{{// note}}`, `{{newline}}`, `{{trim}}` and `{{noop}}` reached the
    prompt as written (s66)."""
    card = {
        "spec": "chara_card_v2",
        "data": {
            "name": "ATRI",
            "description": (
                "ATRI lives by the sea.{{// for authors:\nkeep it short}} She loves crab."
                "{{newline}}She says hi. {{trim}}\nOK{{NOOP}}"
            ),
        },
    }
    data = card_formats.with_standard_macros(card)["data"]
    assert data["description"] == "ATRI lives by the sea. She loves crab.\nShe says hi.OK"

"""What a SillyTavern card's fields become: example dialogue in the shapes real cards
write it, and the fields beyond the five a card's prompt was first built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.character.persona import Persona, load_persona


def card(tmp_path: Path, **fields: Any) -> Persona:
    data = {
        "name": "Aqua",
        "description": "{{char}} is a goddess who helps {{user}}.",
        "personality": "cheerful, clumsy",
        "scenario": "",
        "first_mes": "*{{char}} waves.* Hello, {{user}}!",
        "mes_example": "",
        **fields,
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return load_persona(path)


MULTILINE = (
    "<START>\n{{user}}: Is it lonely up here?\n{{char}}: *pauses, coffee cup halfway to lips*\n"
    '"Lonely" implies a negative experience.\n\n*adjusts papers* I\'d say purposefully '
    'isolated.\n<START>\n{{user}}: Can I stay?\n{{char}}: *frowns*\n"Only tonight."'
)


def test_a_reply_over_several_lines_is_kept_whole(tmp_path: Path) -> None:
    persona = card(tmp_path, mes_example=MULTILINE)
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        (
            "Is it lonely up here?",
            '*pauses, coffee cup halfway to lips*\n"Lonely" implies a negative experience.'
            "\n\n*adjusts papers* I'd say purposefully isolated.",
        ),
        ("Can I stay?", '*frowns*\n"Only tonight."'),
    ]
    prompt = persona.system_prompt()
    assert 'Aqua: *frowns*\n"Only tonight."' in prompt
    assert "purposefully isolated." in prompt


def test_examples_written_with_names_are_read(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        mes_example="<START>\nYou: Hi\nAqua: Hello there!\n<START>\nAnon: Where is Kazuma?\n"
        "aqua： Drinking again.\nUSER: Again?\nAqua: Again.",
    )
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        ("Hi", "Hello there!"),
        ("Where is Kazuma?", "Drinking again."),
        ("Again?", "Again."),
    ]
    assert "{{user}}: Hi\nAqua: Hello there!" in persona.system_prompt()


def test_a_v3_nickname_and_the_card_name_both_speak_as_her(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        nickname="Aqua-sama",
        mes_example="<START>\nYou: Hi\nAqua: Hello!\n<START>\nYou: Bye\nAqua-sama: Farewell!",
    )
    assert [t.char for t in persona.example_dialogue] == ["Hello!", "Farewell!"]


def test_examples_of_her_lines_alone_are_kept(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        mes_example="<START>\n{{char}}: *sighs* Another day, another quest.\n<START>\n"
        "{{char}}: Who dares disturb me?",
    )
    assert [(t.user, t.char) for t in persona.example_dialogue] == [
        ("", "*sighs* Another day, another quest."),
        ("", "Who dares disturb me?"),
    ]
    prompt = persona.system_prompt()
    assert prompt.endswith(
        "[Example dialogue]\nAqua: *sighs* Another day, another quest.\nAqua: Who dares disturb me?"
    )
    exported = persona.to_card_v2()["data"]["mes_example"]
    assert exported == (
        "<START>\n{{char}}: *sighs* Another day, another quest.\n<START>\n"
        "{{char}}: Who dares disturb me?"
    )


def test_a_line_naming_someone_else_is_part_of_her_reply(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        mes_example="{{user}}: Rules?\n{{char}}: Two rules.\nRule one: never lie.\nNote: none.",
    )
    assert persona.example_dialogue[0].char == "Two rules.\nRule one: never lie.\nNote: none."


def test_a_cards_system_prompt_takes_the_first_sentences_place(tmp_path: Path) -> None:
    persona = card(
        tmp_path, system_prompt="{{original}}\nWrite in third person. Never speak for {{user}}."
    )
    prompt = persona.system_prompt()
    assert prompt.startswith(
        "You are Aqua. Always answer as Aqua, in Aqua's own voice, and never step out of "
        "character.\nWrite in third person. Never speak for {{user}}.\n[Character] "
    )
    # Without {{original}} it replaces ATRI's sentence, as SillyTavern's main prompt.
    replaced = card(tmp_path, system_prompt="Narrate as {{char}}.").system_prompt()
    assert replaced.startswith("Narrate as Aqua.\n[Character] ")
    assert persona.to_card_v2()["data"]["system_prompt"] == persona.card_system_prompt


def test_post_history_instructions_are_in_the_prompt_and_the_depth_prompt_is_not(
    tmp_path: Path,
) -> None:
    """The character's note is told in the chat at its depth (test_character_note_s54)."""
    persona = card(
        tmp_path,
        mes_example="{{user}}: Hi\n{{char}}: Hello!",
        post_history_instructions="[Stay in character as {{char}}.]",
        extensions={"depth_prompt": {"prompt": "{{char}} cries easily.", "depth": 4}},
    )
    prompt = persona.system_prompt()
    assert "cries easily" not in prompt and "note" not in prompt
    assert "\n[Personality] cheerful, clumsy\n[Example dialogue]\n" in prompt
    assert prompt.endswith("Aqua: Hello!\n[Instructions] [Stay in character as Aqua.]")
    again = Persona.from_card_v2(persona.to_card_v2())
    assert again.system_prompt() == prompt


def test_constant_lorebook_entries_are_background_facts_within_a_budget(tmp_path: Path) -> None:
    entries = [
        {"keys": ["Axis"], "content": "Axis Order worships {{char}}.", "insertion_order": 5},
        {"keys": [], "content": "Kazuma owes her money.", "constant": True, "insertion_order": 9},
        {"keys": ["x"], "content": "Turned off.", "enabled": False},
        {"keys": ["y"], "content": "x" * 5000},  # over the budget on its own
    ]
    persona = card(tmp_path, character_book={"entries": entries})
    prompt = persona.system_prompt()
    # The keyword entry is told only where a message names Axis (test_lorebook_s53).
    assert prompt.endswith("[Background] Kazuma owes her money.")
    assert "Turned off" not in prompt and "xxxx" not in prompt and "Axis" not in prompt
    assert persona.unused == [
        "character_book: 1 entry always in the system prompt; 1 entry with keys, told "
        "where one is in the last 4 messages; 1 entry disabled; 1 entry not used (over the "
        "2000 characters the prompt takes of them)"
    ]
    assert Persona.from_card_v2(persona.to_card_v2()).system_prompt() == prompt


def test_alternate_greetings_are_greetings_beside_first_mes(tmp_path: Path) -> None:
    persona = card(tmp_path, alternate_greetings=["*<BOT> is asleep.*", "Oh! You came!", " "])
    assert persona.greetings == [
        "*{{char}} waves.* Hello, {{user}}!",
        "*{{char}} is asleep.*",
        "Oh! You came!",
    ]
    assert persona.unused == []


def test_the_packaged_card_has_nothing_unused_and_no_new_sections() -> None:
    persona = load_persona()
    assert persona.unused == []
    assert "【背景设定】" not in persona.system_prompt()


def test_persona_show_names_the_fields_not_used(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from atri.cli import app

    # Her scene is only in first_mes, which the prompt carries: no other greeting fits it.
    card(tmp_path, description="", personality="", alternate_greetings=["Oh! You came!"])
    config = tmp_path / "aqua.toml"
    config.write_text('[persona]\ncard = "card.json"\n', encoding="utf-8")
    shown = CliRunner().invoke(app, ["--config", str(config), "persona", "show"])
    assert shown.exit_code == 0, shown.output
    assert (
        "Character card: alternate_greetings: 1 not used (the card's scene is only in "
        "first_mes, which the system prompt carries)." in " ".join(shown.output.split())
    )


def test_a_card_whose_scene_is_only_its_greeting_carries_it_in_the_prompt(
    tmp_path: Path,
) -> None:
    greeting = (
        "*You wake up in a dark dungeon. {{char}}, the elven jailer, stares at you.* "
        '"Finally awake, {{user}}?"'
    )
    persona = card(tmp_path, description="", personality="", first_mes=greeting)
    assert persona.system_prompt() == (
        "You are Aqua. Always answer as Aqua, in Aqua's own voice, and never step out of "
        "character.\n[Opening scene] *You wake up in a dark dungeon. Aqua, the elven jailer, "
        'stares at you.* "Finally awake, {{user}}?"'
    )
    # A card that describes her keeps its greeting out of the prompt, as before.
    described = card(tmp_path, first_mes=greeting).system_prompt()
    assert "dungeon" not in described


def test_the_packaged_cards_prompt_does_not_carry_its_greeting() -> None:
    persona = load_persona()
    for language in persona.languages:
        version = persona.in_language(language)
        assert version.greeting_for("{{user}}")[:8] not in version.system_prompt()

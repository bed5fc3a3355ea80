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
    assert [(t.user, t.atri) for t in persona.example_dialogue] == [
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
    assert [(t.user, t.atri) for t in persona.example_dialogue] == [
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
    assert [t.atri for t in persona.example_dialogue] == ["Hello!", "Farewell!"]


def test_examples_of_her_lines_alone_are_kept(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        mes_example="<START>\n{{char}}: *sighs* Another day, another quest.\n<START>\n"
        "{{char}}: Who dares disturb me?",
    )
    assert [(t.user, t.atri) for t in persona.example_dialogue] == [
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
    assert persona.example_dialogue[0].atri == "Two rules.\nRule one: never lie.\nNote: none."

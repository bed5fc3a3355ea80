"""Lorebook entries in group chats and in every script: keys are looked for in what the
room said as well as in the conversation, whole words are whole in any script written
with spaces (CJK keys are found inside a sentence), and SillyTavern's `position` puts an
entry where a card's author expects it, or one warning at load says where it went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atri.config import Settings
from model.character.persona import Persona, load_persona
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService


def card_path(tmp_path: Path, entries: list[dict[str, Any]], **book: Any) -> Path:
    data = {
        "name": "Aqua",
        "description": "{{char}} is a goddess.",
        "character_book": {"entries": entries, **book},
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return path


def card(tmp_path: Path, entries: list[dict[str, Any]], **book: Any) -> Persona:
    return load_persona(card_path(tmp_path, entries, **book))


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


SHIP = keyed("Eden", "The Eden is {{char}}'s sunken ship.")


class RecordingEcho(EchoEngine):
    """The echo engine, keeping every prompt it was given."""

    def __init__(self) -> None:
        super().__init__("Aqua heard: ")
        self.seen: list[list[dict[str, str]]] = []

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.seen += batch
        return await super().generate(batch, gen, limits)


def in_group(text: str, user: str, channel: str = "g1", addressed: bool = True) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=f"member{user}",
        text=text,
        channel_id=channel,
        addressed=addressed,
    )


def group_settings(settings: Settings, tmp_path: Path, *entries: dict[str, Any]) -> Settings:
    settings.model.engine = "echo"
    settings.persona.language = "en"
    settings.persona.card = str(card_path(tmp_path, list(entries)))
    return settings


async def test_a_key_the_room_said_tells_the_entry(settings: Settings, tmp_path: Path) -> None:
    engine = RecordingEcho()
    async with await ChatService.open(group_settings(settings, tmp_path, SHIP), engine) as service:
        await service.chat(in_group("did anyone see the Eden last night?", "2", addressed=False))
        await service.chat(in_group("Aqua, what do you think?", "1"))
    asked = engine.seen[-1][-1]["content"]
    assert "(Background that matters here)\nThe Eden is Aqua's sunken ship." in asked, asked
    assert (
        asked.index("the Eden last night")
        < asked.index("(Background")
        < asked.index("what do you think")
    )


async def test_room_lines_count_in_the_scan_depth_in_the_order_said(
    settings: Settings, tmp_path: Path
) -> None:
    """Her reply that named the ship is her conversation's last message: with two room lines
    since, it is within the scan depth of 4 (with them and the new message); with three, past
    it, though still in the prompt."""
    engine = RecordingEcho()
    async with await ChatService.open(group_settings(settings, tmp_path, SHIP), engine) as service:
        for channel, lines in (("g1", 2), ("g2", 3)):
            await service.chat(in_group("tell me about the Eden", "1", channel))
            for i in range(lines):
                await service.chat(in_group(f"lunch? ({i})", "2", channel, addressed=False))
            await service.chat(in_group("Aqua?", "1", channel))
    within, past = (prompt[-1]["content"] for prompt in engine.seen[1::2])
    assert within.endswith("The Eden is Aqua's sunken ship.\n\nmember1: Aqua?"), within
    assert "tell me about the Eden" in "\n".join(m["content"] for m in engine.seen[-1])
    assert "Background" not in past, past


async def test_the_summary_is_shown_but_not_searched_for_keys(
    settings: Settings, tmp_path: Path
) -> None:
    engine = RecordingEcho()
    async with await ChatService.open(group_settings(settings, tmp_path, SHIP), engine) as service:
        await service.chat(in_group("hello", "1"))
        scope = service.scope_for("qq", "1", "g1")
        stored = await service.memory.history(scope)
        assert await service.memory.add_summary(scope, "- They talked of the Eden.", stored[-1].id)
        await service.chat(in_group("and now?", "1"))
    asked = engine.seen[-1]
    shown = "\n".join(m["content"] for m in asked)
    assert "They talked of the Eden." in shown
    assert "Background" not in shown, shown

"""Lorebook entries in group chats and in every script: keys are looked for in what the
room said as well as in the conversation, whole words are whole in any script written
with spaces (CJK keys are found inside a sentence), and SillyTavern's `position` puts an
entry where a card's author expects it, or one warning at load says where it went."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from model.character.persona import Persona, load_persona
from model.character.prompt import Lore, Recalled, Turn, Window, fit_prompt
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.character.test_lorebook_s53 import RecordingEcho


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
    return [entry.content for entry in persona.called_up_lore(list(messages))]


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


def test_constant_entries_go_before_or_after_the_card_as_positioned(tmp_path: Path) -> None:
    entries = [
        {"content": "World: a drowned city.", "constant": True, "position": "before_char"},
        {"content": "Kazuma owes her money.", "constant": True, "position": "after_char"},
        # SillyTavern's own number wins over the card's word; 5 (before the examples) is
        # after the card, where the examples still follow.
        {
            "content": "The sea rose in 2080.",
            "constant": True,
            "position": "after_char",
            "extensions": {"position": 0},
        },
        {"content": "Examples follow.", "constant": True, "extensions": {"position": 5}},
    ]
    persona = card(tmp_path, entries)
    prompt = persona.system_prompt()
    character = prompt.index("[Character]")
    assert prompt.index("World: a drowned city.") < character
    assert prompt.index("The sea rose in 2080.") < character
    assert prompt.index("Kazuma owes her money.") > character
    assert prompt.index("Examples follow.") > character
    assert persona.unused == []  # all where SillyTavern puts them
    again = Persona.from_card_v2(persona.to_card_v2())
    assert again.system_prompt() == prompt


def at_depth(content: str, depth: int, **fields: Any) -> dict[str, Any]:
    return {"content": content, "extensions": {"position": 4, "depth": depth}, **fields}


def turns(*said: str) -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(said)]


def test_notes_at_a_depth_land_that_many_messages_up_the_chat() -> None:
    lore = Lore.placed(
        [("Zero.", 0), ("One.", 1), ("Plain.", None), ("Two.", 2), ("Three.", 3)], "(B)"
    )
    earlier = turns("q1", "a1", "q2", "a2")
    fitted = fit_prompt("sys", earlier, "q3", len, Window(10_000, 10), lore=lore)
    assert [m["content"] for m in fitted.messages[1:]] == [
        "q1",
        "a1",
        # Three up leads the question; two up is her reply: the end of the question.
        "(B)\nThree.\n\nq2\n\n(B)\nTwo.",
        "a2",
        # One up (and no depth) right before the new message, 0 after it.
        "(B)\nOne.\nPlain.\n\nq3\n\n(B)\nZero.",
    ]
    # Each note is counted as the fitting counts a note: its text and a line after it.
    plain = fit_prompt("sys", earlier, "q3", len, Window(10_000, 10))
    notes = ["(B)\nThree.", "(B)\nTwo.", "(B)\nOne.\nPlain.", "(B)\nZero."]
    assert fitted.prompt_tokens - plain.prompt_tokens == sum(len(n) + 1 for n in notes)
    assert fitted.lore_shown and not plain.lore_shown


def test_a_note_between_a_question_and_her_reply_ends_the_question() -> None:
    """Two messages up is her last reply: the note goes at the same point, the end of the
    question before it, not into her words nor as a turn of its own."""
    lore = Lore.placed([("Two.", 2), ("Deep.", 40)], "(B)")
    earlier = turns("q1", "a1", "q2", "a2")
    fitted = fit_prompt(
        "sys", earlier, "q3", len, Window(10_000, 10), lore=lore, recalled=Recalled("old", "(R)")
    )
    assert [m["role"] for m in fitted.messages] == ["system", *["user", "assistant"] * 2, "user"]
    shown = [m["content"] for m in fitted.messages[1:]]
    # Deeper than the chat shown: leads its first user's turn, after the summary.
    assert shown[0] == "(R)\nold\n\n(B)\nDeep.\n\nq1"
    assert shown[2] == "q2\n\n(B)\nTwo."
    assert shown[1] == "a1" and shown[3] == "a2" and shown[4] == "q3"


def test_each_note_goes_in_whole_or_not_at_all_the_one_before_the_message_first() -> None:
    lore = Lore.placed([("Deep " + "x" * 60, 3), ("Near.", None)], "(B)")
    near = len("(B)\nNear.") + 1
    # The history budget (which notes, room lines and the summary share) holds the near one.
    window = Window(context_window=10_000, max_new_tokens=10, max_history_tokens=near)
    fitted = fit_prompt("sys", [], "q3", len, window, lore=lore)
    assert fitted.messages[-1]["content"] == "(B)\nNear.\n\nq3"
    plain = fit_prompt("sys", [], "q3", len, window)
    assert fitted.prompt_tokens - plain.prompt_tokens == near
    roomy = fit_prompt("sys", [], "q3", len, Window(10_000, 10), lore=lore)
    assert roomy.messages[-1]["content"] == f"(B)\nDeep {'x' * 60}\n\n(B)\nNear.\n\nq3"


async def test_a_constant_entry_at_a_depth_is_told_with_every_message_not_in_the_system_prompt(
    settings: Settings, tmp_path: Path
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(
        card_path(tmp_path, [at_depth("[Write in third person.]", 0, constant=True), SHIP])
    )
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine) as service:
        await service.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        await service.chat(ChatRequest(platform="test", user_id="u1", text="the Eden?"))
    first, second = engine.seen
    assert "third person" not in first[0]["content"]
    assert first[-1]["content"].endswith(
        "hi\n\n(Background that matters here)\n[Write in third person.]"
    )
    assert second[-1]["content"] == (
        "(Background that matters here)\nThe Eden is Aqua's sunken ship.\n\nthe Eden?"
        "\n\n(Background that matters here)\n[Write in third person.]"
    )


def test_a_position_atri_has_no_place_for_is_said_at_load(tmp_path: Path) -> None:
    entries = [
        keyed("Eden", "Above the note.", extensions={"position": 2}),
        {"content": "Below the note.", "constant": True, "extensions": {"position": 3}},
        {"content": "After examples.", "constant": True, "extensions": {"position": 6}},
        keyed("Eden", "Keyed after examples.", extensions={"position": 6}),  # the note: no warning
        keyed("Eden", "Outlet.", extensions={"position": 7}),
        keyed("Eden", "Unknown.", extensions={"position": 12}),
        keyed("Eden", "Hers.", extensions={"position": 4, "depth": 2, "role": 2}),
    ]
    persona = card(tmp_path, entries)
    assert persona.unused[-1] == (
        "character_book position: 4 entries placed as if after the card (2 at the Author's "
        "Note, which ATRI has none of, 1 after the example messages, 1 at a position "
        "SillyTavern does not have): constant ones in the system prompt, the others in the "
        "note before the new message; 1 entry not used (an outlet, whose text only a "
        "{{outlet::name}} macro places, and ATRI fills none); 1 entry at a depth as her own "
        "message (role assistant) told as a note in a user's turn, not as her words"
    )
    assert "Below the note." in persona.system_prompt()
    assert "After examples." in persona.system_prompt()
    # All of one insertion_order: the later in the book first, as SillyTavern tells them.
    assert told(persona, "the Eden") == [
        "Hers.",
        "Unknown.",
        "Keyed after examples.",
        "Above the note.",
    ]
    assert [e.depth for e in persona.called_up_lore(["the Eden"])] == [2, None, None, None]


async def test_the_position_warning_is_logged_at_start_not_per_message(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.model.engine = "echo"
    outlet = keyed("Eden", "Outlet.", extensions={"position": 7})
    settings.persona.card = str(card_path(tmp_path, [outlet, SHIP]))
    with caplog.at_level(logging.WARNING):
        async with await ChatService.open(settings) as service:
            for text in ("the Eden?", "the Eden!"):
                await service.chat(ChatRequest(platform="test", user_id="u1", text=text))
    said = [r.getMessage() for r in caplog.records if "position" in r.getMessage()]
    assert len(said) == 1 and "outlet" in said[0], said


def test_world_info_depths_and_an_export_keep_where_entries_go(tmp_path: Path) -> None:
    """A world-info file's entry gives its position, depth and role at its top level."""
    entries = {
        "0": {"uid": 0, "key": ["Eden"], "content": "Deep.", "position": 4, "depth": 3},
        "1": {"uid": 1, "key": [], "content": "Always.", "constant": True, "position": "4"},
        "2": {"uid": 2, "key": [], "content": "First.", "constant": True, "position": 0},
    }
    persona = card(tmp_path, list(entries.values()))
    assert [(e.content, e.depth, e.constant) for e in persona.keyword_lore] == [
        ("Deep.", 3, False),
        ("Always.", 4, True),  # SillyTavern's depth where none is given
    ]
    assert persona.lore_before_card == ["First."]
    assert [(t.content, t.depth) for t in persona.called_up_lore(["hm"])] == [("Always.", 4)]
    assert persona.unused == [
        "character_book: 1 entry always in the system prompt; 1 entry always told in the "
        "chat, at a depth; 1 entry with keys, told where one is in the last 4 messages "
        "(1 of them at a depth in the chat, the others before the new message)"
    ]
    again = Persona.from_card_v2(persona.to_card_v2())
    assert again.keyword_lore == persona.keyword_lore
    assert again.lore_before_card == persona.lore_before_card
    assert again.unused == persona.unused

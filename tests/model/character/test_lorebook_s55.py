"""The lorebook as SillyTavern's world-info.js tells it: entries of one position by
`insertion_order` with equal ones the later first, no entry without a key unless constant,
the text of entries told calling up others (recursion), `{{char}}` and `{{user}}` in keys,
V3 decorators taken out of an entry's text; and keys in any case found as a Greek, Russian
or Arabic reader writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atri.config import Settings
from model.character.persona import Persona, load_persona
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.character.test_lorebook_s53 import RecordingEcho

NOTE = "(Background that matters here)\n"


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


def st_entry(keys: list[str], content: str, order: int = 100, **ext: Any) -> dict[str, Any]:
    """An entry as SillyTavern's convertWorldInfoToCharacterBook exports it (trimmed): its
    own switches under `extensions`, null where the entry kept the global setting."""
    return {
        "keys": keys,
        "secondary_keys": [],
        "content": content,
        "constant": False,
        "selective": True,
        "insertion_order": order,
        "enabled": True,
        "position": "after_char",
        "use_regex": True,
        "extensions": {
            "position": 1,
            "selectiveLogic": 0,
            "scan_depth": None,
            "match_whole_words": None,
            "case_sensitive": None,
            "exclude_recursion": False,
            "prevent_recursion": False,
            "delay_until_recursion": False,
            **ext,
        },
    }


def told(persona: Persona, *messages: str, user: str = "{{user}}") -> list[str]:
    return [entry.content for entry in persona.called_up_lore(list(messages), user)]


async def asked(settings: Settings, path: Path, *texts: str, name: str = "Kazuma") -> list[str]:
    """The last user's turn of each prompt the worker built, one message after another."""
    settings.model.engine = "echo"
    settings.persona.language = "en"
    settings.persona.card = str(path)
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine) as service:
        for text in texts:
            await service.chat(
                ChatRequest(platform="test", user_id="u1", display_name=name, text=text)
            )
    return [prompt[-1]["content"] for prompt in engine.seen]


async def test_entries_of_one_place_go_by_insertion_order_equal_ones_the_later_first(
    settings: Settings, tmp_path: Path
) -> None:
    entries = [
        st_entry(["Eden"], "A (100)."),
        st_entry(["Eden"], "B (100)."),
        st_entry(["Eden"], "C (50).", 50),
        st_entry(["Eden"], "D (200).", 200),
    ]
    (prompt,) = await asked(
        settings, card_path(tmp_path, entries, recursive_scanning=False), "the Eden?"
    )
    # The highest order nearest the message, as SillyTavern puts it nearest the chat.
    assert prompt == NOTE + "C (50).\nB (100).\nA (100).\nD (200).\n\nthe Eden?"


def test_constant_entries_in_the_system_prompt_go_by_the_same_order(tmp_path: Path) -> None:
    entries = [
        {**st_entry([], "World first.", 100), "constant": True, "position": "before_char"},
        {**st_entry([], "World second.", 100), "constant": True, "position": "before_char"},
        {**st_entry([], "After, late.", 300), "constant": True},
        {**st_entry([], "After, early.", 1), "constant": True},
    ]
    for entry in entries[:2]:
        entry["extensions"]["position"] = 0
    prompt = card(tmp_path, entries).system_prompt()
    assert prompt.index("World second.") < prompt.index("World first.") < prompt.index("goddess")
    assert prompt.index("goddess") < prompt.index("After, early.") < prompt.index("After, late.")


def test_an_entry_neither_constant_nor_keyed_is_never_told(tmp_path: Path) -> None:
    entries = [
        {"content": "Keyless, not constant.", "enabled": True, "insertion_order": 1},
        {"keys": ["", " "], "content": "Blank keys.", "constant": False},
        {"keys": [], "content": "Constant.", "constant": True},
        {"keys": ["Eden"], "content": "Keyed."},
    ]
    persona = card(tmp_path, entries)
    assert "Keyless" not in persona.system_prompt()
    assert "Blank keys" not in persona.system_prompt()
    assert "Constant." in persona.system_prompt()
    assert told(persona, "the Eden and anything else") == ["Keyed."]
    assert persona.unused == [
        "character_book: 1 entry always in the system prompt; 1 entry with keys, told where "
        "one is in the last 4 messages; 2 entries never told (neither constant nor with a "
        "key, as SillyTavern never tells one)"
    ]


def test_missing_switches_take_sillytaverns_defaults(tmp_path: Path) -> None:
    entries = [
        st_entry(["magic"], "Whole words, any case."),  # both null: the default settings
        {"keys": ["Power"], "content": "No extensions."},  # none at all: the same
        # SillyTavern reads its own switch; V3's `case_sensitive` only where it gives none.
        {**st_entry(["Beast"], "Any case.", case_sensitive=False), "case_sensitive": True},
        {**st_entry(["Glade"], "V3 case."), "case_sensitive": True},
        st_entry(["forest"], "Inside words.", match_whole_words=False),
    ]
    persona = card(tmp_path, entries, recursive_scanning=False)
    assert told(persona, "MAGIC power beast glade") == [
        "No extensions.",  # no insertion_order: 0
        "Any case.",
        "Whole words, any case.",
    ]
    assert told(persona, "magical forests of the Glade") == ["Inside words.", "V3 case."]


async def test_an_entry_told_calls_up_those_its_text_names(
    settings: Settings, tmp_path: Path
) -> None:
    entries = [
        st_entry(["Eldoria"], "Eldoria is where the Shadowfang hunt.", 10),
        st_entry(["Shadowfang"], "Shadowfang are wolves of the Glade.", 20),
        st_entry(["glade"], "The Glade is silent.", 30),
        # Called up only by the messages, never by an entry's text.
        st_entry(["wolves"], "Wolves fear fire.", 40, exclude_recursion=True),
    ]
    path = card_path(tmp_path, entries)
    first, second = await asked(settings, path, "Tell me of Eldoria.", "And the wolves?")
    assert first == NOTE + (
        "Eldoria is where the Shadowfang hunt.\nShadowfang are wolves of the Glade.\n"
        "The Glade is silent.\n\nTell me of Eldoria."
    )
    assert second.startswith(NOTE + "Eldoria is where the Shadowfang hunt.\n")
    assert second.endswith("Wolves fear fire.\n\nAnd the wolves?")
    # The book's `recursive_scanning: false`, and an entry that calls up none.
    flat = card(tmp_path, entries, recursive_scanning=False)
    assert told(flat, "Eldoria") == ["Eldoria is where the Shadowfang hunt."]
    quiet = [st_entry(["Eldoria"], entries[0]["content"], 10, prevent_recursion=True)]
    assert told(card(tmp_path, quiet + entries[1:]), "Eldoria") == [entries[0]["content"]]


def test_an_entry_delayed_until_recursion_waits_for_another_to_be_told(tmp_path: Path) -> None:
    entries = [
        st_entry(["Eden"], "Delayed.", 20, delay_until_recursion=True),
        st_entry(["ship"], "The ship.", 10),
    ]
    persona = card(tmp_path, entries)
    assert told(persona, "the Eden") == []
    assert told(persona, "the Eden, a ship") == ["The ship.", "Delayed."]
    assert told(card(tmp_path, entries, recursive_scanning=False), "the Eden, a ship") == [
        "The ship."
    ]


async def test_constant_facts_call_up_entries_with_every_message(
    settings: Settings, tmp_path: Path
) -> None:
    entries = [
        {**st_entry([], "Aqua lives in Axel.", 1), "constant": True},
        {**st_entry([], "Kazuma is poor.", 2, prevent_recursion=True), "constant": True},
        st_entry(["Axel"], "Axel is a town of beginners.", 5),
        st_entry(["poor"], "Money is scarce.", 6),
    ]
    path = card_path(tmp_path, entries)
    (prompt,) = await asked(settings, path, "Good morning!")
    assert prompt == NOTE + "Axel is a town of beginners.\n\nGood morning!"
    persona = load_persona(path)
    again = Persona.from_card_v2(persona.to_card_v2())
    assert again.lore_not_scanned == ["Kazuma is poor."]
    assert told(again, "hi") == ["Axel is a town of beginners."]
    assert again.keyword_lore == persona.keyword_lore


async def test_names_in_keys_are_filled_in(settings: Settings, tmp_path: Path) -> None:
    entries = [
        st_entry(["{{char}}"], "Aqua is a water goddess.", 1),
        st_entry(["<USER>'s house"], "The mansion.", 2),
        st_entry(["{{user}}"], "{{user}} is an adventurer.", 3),
    ]
    path = card_path(tmp_path, entries, recursive_scanning=False)
    first, second = await asked(settings, path, "aqua, hello", "to Kazuma's house!")
    assert first == NOTE + "Aqua is a water goddess.\n\naqua, hello"
    # Her name in the entry's text is filled in; {{user}} stays for the reply's filling.
    assert second.endswith("The mansion.\n{{user}} is an adventurer.\n\nto Kazuma's house!")


def test_decorators_are_taken_out_and_activate_or_dont(tmp_path: Path) -> None:
    entries = [
        {"keys": ["Eden"], "content": "@@activate\nAlways told."},
        {"keys": ["Eden"], "content": "@@dont_activate\nNever told."},
        {"keys": ["Eden"], "content": "@@depth 3\n@@@activate\nFallback: always."},
        {"keys": ["Eden"], "content": "@@activate_only_after 2\nKeyed, unmarked."},
        {"keys": ["Eden"], "content": "Text @@activate not a decorator."},
    ]
    persona = card(tmp_path, entries, recursive_scanning=False)
    assert "Always told." in persona.system_prompt()
    assert "Fallback: always." in persona.system_prompt()
    assert "@@" not in persona.system_prompt()
    assert told(persona, "hm") == []
    assert told(persona, "the Eden") == ["Text @@activate not a decorator.", "Keyed, unmarked."]
    assert "1 entry disabled" in persona.unused[0]


def test_greek_without_accents_and_russian_e_for_yo(tmp_path: Path) -> None:
    entries = [
        {"keys": ["μαγεία"], "content": "Mageia."},
        {"keys": ["ΟΔΥΣΣΕΑΣ"], "content": "Odysseas."},
        {"keys": ["Ёлка"], "content": "Yolka."},
        {"keys": ["ежик"], "content": "Yozhik."},
        {"keys": ["Ёлка"], "content": "Exact.", "extensions": {"case_sensitive": True}},
    ]
    persona = card(tmp_path, entries)
    assert told(persona, "Η ΜΑΓΕΙΑ ΕΙΝΑΙ ΕΔΩ") == ["Mageia."]  # capitals, unaccented
    assert told(persona, "η μαγεια") == ["Mageia."]
    assert told(persona, "της μαγείας") == []  # still a whole word
    assert told(persona, "ο Οδυσσέας έφυγε") == ["Odysseas."]  # σ and final ς
    assert told(persona, "елка горит") == ["Yolka."]
    assert told(persona, "ЕЛКА") == ["Yolka."]
    assert told(persona, "Ёлка") == ["Exact.", "Yolka."]
    assert told(persona, "мой ёжик") == ["Yozhik."]
    assert told(persona, "под елкой") == []
    # Й is not И, nor ї і: only ё's marks are left out.
    assert told(card(tmp_path, [{"keys": ["мои"], "content": "Moi."}]), "мой") == []


def test_japanese_and_latin_keep_their_marks(tmp_path: Path) -> None:
    entries = [
        {"keys": ["ガラス"], "content": "Glass."},
        {"keys": ["café"], "content": "Cafe."},
        {"keys": ["魔法"], "content": "Mahou."},
    ]
    persona = card(tmp_path, entries)
    assert told(persona, "カラスが鳴く") == []  # a crow is not glass
    assert told(persona, "ガラスの靴") == ["Glass."]
    assert told(persona, "le cafe noir") == []
    assert told(persona, "LE CAFÉ") == ["Cafe."]
    assert told(persona, "我最喜欢魔法少女了") == ["Mahou."]


def test_arabic_keys_after_joined_words_and_without_vowel_marks(tmp_path: Path) -> None:
    entries = [
        {"keys": ["كتاب"], "content": "Kitab."},
        {"keys": ["القاهرة"], "content": "Cairo."},
        {"keys": ["أحمد"], "content": "Ahmad."},
    ]
    persona = card(tmp_path, entries)
    for text in ("والكتاب", "بالكتاب", "للكتاب", "وكتاب", "فبكتاب", "الْكِتَابُ", "كتـــاب"):
        assert told(persona, f"هذا {text} هنا") == ["Kitab."], text
    assert told(persona, "كتابة") == []  # "writing": a longer word
    assert told(persona, "مكتبة") == []
    assert told(persona, "مكتاب") == []  # only the joined words lead it
    for text in ("القاهرة", "بالقاهرة", "للقاهرة", "والقاهرة"):
        assert told(persona, f"في {text}") == ["Cairo."], text
    assert told(persona, "قال احمد") == ["Ahmad."]  # typed without the hamza
    assert told(persona, "قال أحمد") == ["Ahmad."]

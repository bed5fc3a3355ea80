"""Lorebook keys and entries as real cards carry them: SillyTavern's own export (every
entry `use_regex: true`, keys plain words), its default of whole-word matching, and the
odd shapes pasted world info and hand edits give a `character_book`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.character.persona import Persona, load_persona

# An entry as SillyTavern's convertWorldInfoToCharacterBook writes it (trimmed).
ST_EXTENSIONS = {"position": 0, "selectiveLogic": 0, "scan_depth": None, "match_whole_words": None}


def st_entry(keys: list[str], content: str) -> dict[str, Any]:
    return {
        "keys": keys,
        "secondary_keys": [],
        "content": content,
        "constant": False,
        "selective": False,
        "insertion_order": 100,
        "enabled": True,
        "position": "before_char",
        "use_regex": True,  # "ST keys are always regex"
        "extensions": dict(ST_EXTENSIONS),
    }


def card(tmp_path: Path, book: dict[str, Any] | list[Any]) -> Persona:
    data = {
        "name": "Seraphina",
        "description": "{{char}} guards the forest.",
        "character_book": book,
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return load_persona(path)


def told(persona: Persona, *messages: str) -> list[str]:
    return [entry.content for entry in persona.called_up_lore(list(messages))]


def test_a_sillytavern_export_keys_are_words_though_use_regex_is_true(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        {"entries": [st_entry(["C++", "Mr. Smith?"], "Cpp."), st_entry(["[secret]"], "Secret.")]},
    )
    assert told(persona, "The sky is blue") == []  # `[secret]` is not a class of letters
    assert told(persona, "I like tea") == []
    assert told(persona, "Do you know C++?") == ["Cpp."]
    assert told(persona, "I met Mr. Smith? yes") == ["Cpp."]
    assert told(persona, "the [secret] door") == ["Secret."]


def test_a_key_is_an_expression_only_written_between_slashes(tmp_path: Path) -> None:
    entries = [
        st_entry(["/sh[io]p/i"], "Slashed."),
        {**st_entry(["^Hi"], "Bare."), "use_regex": True},
        st_entry(["/a/b/i"], "Inner slash."),  # SillyTavern: plain words
        st_entry(["/x/q"], "Not a flag."),  # `q` is no JavaScript flag: plain words
    ]
    persona = card(tmp_path, {"entries": entries})
    assert told(persona, "a SHIP") == ["Slashed."]
    assert told(persona, "Hi there") == []
    assert told(persona, "say ^hi to her") == ["Bare."]
    assert told(persona, "the path /a/b/i here") == ["Inner slash."]
    assert told(persona, "an x") == []


def test_an_export_says_use_regex_where_a_key_is_an_expression(tmp_path: Path) -> None:
    book = {"entries": [st_entry(["/sh[io]p/i"], "Slashed."), st_entry(["ship"], "Plain.")]}
    exported = card(tmp_path, book).to_card_v2()["data"]["character_book"]["entries"]
    assert [e["use_regex"] for e in exported] == [True, False]


def test_keys_match_whole_words_by_default_as_in_sillytavern(tmp_path: Path) -> None:
    entries = [
        st_entry(["magic"], "Magic."),  # match_whole_words: null, SillyTavern's export
        {"keys": ["power"], "content": "Power."},  # no extensions at all
        {**st_entry(["beast"], "Beast."), "extensions": {"match_whole_words": False}},
        st_entry(["магия"], "Magiya."),
        st_entry(["magical forest"], "Forest."),  # several words: found anywhere
    ]
    persona = card(tmp_path, {"entries": entries})
    assert told(persona, "a magical powerful beastly forest") == ["Beast."]
    assert told(persona, "Magic, power!") == ["Power.", "Magic."]  # by insertion_order
    assert told(persona, "магиями") == []
    assert told(persona, "о магия.") == ["Magiya."]
    assert told(persona, "the magical forests") == ["Forest."]


def test_keys_of_scripts_without_spaces_are_found_inside_a_sentence(tmp_path: Path) -> None:
    entries = [
        st_entry(["魔法"], "Mahou."),
        st_entry(["エルドリア"], "Eldoria."),
        st_entry(["마법"], "Mabeop."),
        st_entry(["magic"], "Magic."),
    ]
    persona = card(tmp_path, {"entries": entries})
    assert told(persona, "我喜欢魔法书") == ["Mahou."]
    assert told(persona, "ここはエルドリアの森です") == ["Eldoria."]
    assert told(persona, "마법을 써 줘") == ["Mabeop."]
    assert told(persona, "我喜欢magic书") == ["Magic."]


def world_info_entry(uid: int, keys: list[str], content: str, **fields: Any) -> dict[str, Any]:
    """An entry of a SillyTavern world-info file (its Eldoria.json), trimmed."""
    entry = {"uid": uid, "key": keys, "keysecondary": [], "comment": "", "content": content}
    return {
        **entry,
        "constant": False,
        "selective": False,
        "order": 100,
        "disable": False,
        **fields,
    }


def test_world_info_pasted_as_the_book_is_read(tmp_path: Path) -> None:
    entries = {
        "0": world_info_entry(0, ["eldoria", "forest"], "Eldoria is here."),
        "1": world_info_entry(1, ["shadowfang"], "Beasts.", keysecondary=["night"], selective=True),
        "2": world_info_entry(2, ["glade"], "Off.", disable=True),
        "3": world_info_entry(3, ["power"], "Exact.", caseSensitive=True, selectiveLogic=0),
        "4": world_info_entry(4, [], "Always.", constant=True, order=1),
    }
    persona = card(tmp_path, {"entries": entries, "name": "Eldoria"})
    assert told(persona, "the forest at noon") == ["Eldoria is here."]
    assert told(persona, "a shadowfang") == []
    assert told(persona, "a shadowfang at night") == ["Beasts."]
    assert told(persona, "the glade") == []
    assert told(persona, "Power") == []
    assert "Always." in persona.system_prompt()
    assert persona.unused == [
        "character_book: 1 entry always in the system prompt; 3 entries with keys, told "
        "where one is in the last 4 messages; 1 entry disabled"
    ]


def test_keys_secondary_keys_and_flags_given_as_strings_are_read(tmp_path: Path) -> None:
    entries = [
        {"keys": "forest, wood", "content": "Forest.", "enabled": True, "insertion_order": 1},
        {"key": ["glade"], "content": "Glade.", "enabled": True},
        {
            "keys": ["beast"],
            "secondary_keys": "night, dark",
            "selective": "true",
            "content": "Beast.",
        },
        {"keys": ["lake"], "content": "Off.", "enabled": "false"},
        {"keys": ["power"], "content": "Ordered.", "insertion_order": "100", "priority": "5"},
    ]
    persona = card(tmp_path, {"entries": entries, "scan_depth": "2"})
    assert "Forest." not in persona.system_prompt()
    assert told(persona, "into the wood") == ["Forest."]
    assert told(persona, "the glade") == ["Glade."]
    assert told(persona, "a beast") == []
    assert told(persona, "a beast in the dark") == ["Beast."]
    assert told(persona, "the lake") == []
    assert [e.priority for e in persona.keyword_lore if e.keys == ["power"]] == [5]
    assert persona.lore_scan_depth == 2
    assert persona.unused == [
        "character_book: 0 entries always in the system prompt; 4 entries with keys, told "
        "where one is in the last 2 messages; 1 entry disabled"
    ]


def test_entries_that_cannot_be_read_are_counted_in_the_note(tmp_path: Path) -> None:
    entries = [
        {"keys": ["forest"], "enabled": True},  # no content
        {"keys": {"forest": 1}, "content": "Odd keys."},
        "forest lore",
        {"keys": ["forest"], "content": "Forest."},
    ]
    persona = card(tmp_path, {"entries": entries})
    assert told(persona, "the forest") == ["Forest."]
    assert persona.unused == [
        "character_book: 0 entries always in the system prompt; 1 entry with keys, told "
        "where one is in the last 4 messages; 3 entries not read (not an object with a "
        "`content` string and `keys` as a list or a comma-separated string)"
    ]
    assert card(tmp_path, {"entries": "forest lore"}).unused == [
        "character_book: 0 entries always in the system prompt; 1 entry not read (not an "
        "object with a `content` string and `keys` as a list or a comma-separated string)"
    ]


def test_a_list_given_as_the_book_is_read_as_its_entries(tmp_path: Path) -> None:
    persona = card(tmp_path, [{"keys": ["forest"], "content": "Forest."}])
    assert told(persona, "the forest at noon") == ["Forest."]

"""A review of cards and lorebooks: a key too slow to search is searched no more and one
message's search has a time budget; keys are compiled once, as the card is read; an export
keeps the card as read; `{{original}}` in post-history instructions is nothing; a 0 %
entry is disabled; a character's note at no depth says so."""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from model.character import card_fields
from model.character.card_fields import KeywordEntry, SearchBudget
from model.character.persona import Persona, load_persona

# A member's message on which the key below backtracks far past any timeout.
BACKTRACKS = "a" * 40 + "b"


def slow_key(i: int) -> str:
    return f"/(a|aa)+c|zz{i}q/"


def card_path(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "card.json"
    card = {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    return path


def book_card(tmp_path: Path, entries: list[dict[str, Any]], **data: Any) -> Persona:
    fields = {"name": "Aqua", "description": "{{char}} is a goddess of water."}
    return load_persona(
        card_path(tmp_path, {**fields, "character_book": {"entries": entries}, **data})
    )


def told(persona: Persona, *messages: str) -> list[str]:
    return [entry.content for entry in persona.called_up_lore(list(messages))]


def test_a_key_that_timed_out_is_not_searched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # A long timeout, so that searching the key again shows on a busy machine's clock.
    monkeypatch.setattr(card_fields, "KEY_SEARCH_SECONDS", 1.0)
    entry = KeywordEntry(content="lore", keys=[slow_key(0)])
    started = time.perf_counter()
    assert not entry.is_called_up(BACKTRACKS)
    assert time.perf_counter() - started >= 0.9  # it did time out
    started = time.perf_counter()
    assert not entry.is_called_up(BACKTRACKS)
    assert not entry.is_called_up("zz0q")  # given up on, not found even where it would match
    assert time.perf_counter() - started < 0.5


def test_one_messages_search_has_a_time_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """200 such keys each timing out held every reply 10 s while the message was among the
    scanned ones."""
    monkeypatch.setattr(SearchBudget, "_told", False)
    entries = [{"keys": [slow_key(i)], "content": f"entry {i}"} for i in range(200)]
    persona = book_card(tmp_path, entries)
    with caplog.at_level(logging.WARNING, logger=card_fields.__name__):
        for _ in range(3):
            started = time.perf_counter()
            assert told(persona, BACKTRACKS) == []
            assert time.perf_counter() - started < 2  # 10 s and more without a budget
    said = [r.getMessage() for r in caplog.records if "keys took over" in r.getMessage()]
    assert len(said) == 1
    assert told(persona, "zz150q") == ["entry 150"]  # a key the budget cut short still works


def test_keys_are_compiled_once_as_the_card_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A book of over 4096 keys recompiled each of them with every message."""
    entries = [{"keys": [f"/zq{i}x/"], "content": f"entry {i}"} for i in range(4200)]
    entries.append({"keys": ["{{user}}'s boat"], "content": "The boat."})
    persona = book_card(tmp_path, entries)
    compile_key = card_fields.stoppable_re.compile
    compiled: list[str] = []

    def counting(pattern: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(pattern)
        return compile_key(pattern, *args, **kwargs)

    monkeypatch.setattr(card_fields.stoppable_re, "compile", counting)
    lore = persona.called_up_lore(["zq7x on Kaito's boat"], "Kaito")
    assert sorted(e.content for e in lore) == ["The boat.", "entry 7"]
    assert len(compiled) <= 1  # only the key whose {{user}} is this person's name
    persona.called_up_lore(["zq4100x on Kaito's boat"], "Kaito")
    assert len(compiled) <= 1


CARD: dict[str, Any] = {
    "name": "ATRI",
    "description": "{{Char}} is a robot girl found by <USER> at the bottom of the sea.",
    "personality": "cheerful, {{random:proud,naive}}",
    "scenario": "A flooded seaside town.",
    "first_mes": "Good morning, {{user}}!",
    "mes_example": "<START>\n{{user}}: Can you cook?\n{{char}}: Of course!",
    "creator_notes": "Best with temp 0.8.",
    "tags": ["robot"],
    "creator": "tester",
    "character_version": "1.2",
    "extensions": {
        "talkativeness": "0.5",
        "fav": True,
        "world": "Eden",
        "chub": {"id": 123},
        "depth_prompt": {"prompt": "Keep {{char}} cheerful.", "depth": 3, "role": "system"},
    },
    "character_book": {
        "name": "ATRI lore",
        "token_budget": 500,
        "recursive_scanning": True,
        "extensions": {"x": 1},
        "entries": [
            {
                "id": 1,
                "keys": ["kamome"],
                "content": "Seagulls nest on the roof.",
                "enabled": True,
                "insertion_order": 12,
                "position": "before_char",
                "comment": "seagull memo",
                "extensions": {"useProbability": True, "probability": 100, "role": 1},
            },
            {"id": 2, "keys": ["secret"], "content": "Disabled.", "enabled": False},
            {
                "id": 3,
                "keys": [],
                "content": "The world is flooded.",
                "constant": True,
                "insertion_order": 40,
                "priority": 7,
                "position": "before_char",
            },
            {"id": 4, "keys": [], "content": "x" * 2500, "constant": True, "enabled": True},
            {"id": 5, "keys": ["long"], "content": "y" * 2500, "enabled": True},
            {
                "id": 6,
                "keys": ["depthkey"],
                "content": "At depth 2 as the user.",
                "extensions": {"position": 4, "depth": 2, "role": 1},
            },
        ],
    },
}


def test_an_export_is_the_card_as_read(tmp_path: Path) -> None:
    """Disabled and long entries, the card's and book's extensions, an entry's comment,
    position and role, macros as written: all were dropped or rewritten."""
    persona = load_persona(card_path(tmp_path, copy.deepcopy(CARD)))
    exported = persona.to_card_v2()
    assert exported["spec"] == "chara_card_v2"
    assert exported["data"] == CARD
    again = load_persona(card_path(tmp_path, exported["data"]))
    assert again.system_prompt() == persona.system_prompt()
    assert again.note_in_chat() == persona.note_in_chat()
    for message in ("kamome and long depthkey", "nothing"):
        assert told(again, message) == told(persona, message)
    assert Persona.from_card_v2(exported).system_prompt() == persona.system_prompt()


def test_original_in_post_history_instructions_is_nothing(tmp_path: Path) -> None:
    persona = book_card(tmp_path, [], post_history_instructions="{{original}} Be brief.")
    assert persona.system_prompt().endswith("\n[Instructions] Be brief.")
    alone = book_card(tmp_path, [], post_history_instructions=" {{Original}} ")
    assert "[Instructions]" not in alone.system_prompt()
    assert "original" not in alone.system_prompt().lower()


def test_a_zero_percent_entry_is_disabled_and_a_chance_one_always_told(tmp_path: Path) -> None:
    entries = [
        {
            "keys": ["ghost"],
            "content": "Parked.",
            "extensions": {"useProbability": True, "probability": 0},
        },
        {
            "keys": ["ghost"],
            "content": "Half.",
            "extensions": {"useProbability": True, "probability": "50"},
        },
        {
            "keys": ["ghost"],
            "content": "Unused.",
            "extensions": {"useProbability": False, "probability": 0},
        },
        # A SillyTavern world-info file's own names.
        {"key": ["ghost"], "content": "World info.", "useProbability": True, "probability": 0},
    ]
    persona = book_card(tmp_path, entries)
    for _ in range(5):
        assert told(persona, "a ghost!") == ["Unused.", "Half."]  # equal order: the later first
    note = next(u for u in persona.unused if u.startswith("character_book:"))
    assert "2 entries disabled (2 of them by a probability of 0 %)" in note
    assert "1 entry with a probability under 100 % told every time" in note


@pytest.mark.parametrize("depth", [-3, "soon"])
def test_a_character_note_at_no_depth_says_so(tmp_path: Path, depth: object) -> None:
    note = {"prompt": "Keep {{char}} cheerful.", "depth": depth}
    persona = book_card(tmp_path, [], extensions={"depth_prompt": note})
    assert persona.character_note_depth == 4
    said = [u for u in persona.unused if u.startswith("extensions.depth_prompt.depth:")]
    assert said == [
        f"extensions.depth_prompt.depth: {json.dumps(depth)} is not a number of messages up "
        "the chat (0 or more); the character's note is told 4 messages up, SillyTavern's default"
    ]
    assert not [
        u
        for u in book_card(tmp_path, [], extensions={"depth_prompt": {**note, "depth": 2}}).unused
        if "depth" in u
    ]

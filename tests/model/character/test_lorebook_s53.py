"""A card's keyword lorebook entries are told only where a recent message names a key, in
a note before the new message (the shared, cached system prompt stays the same text), and
its `alternate_greetings` are greetings picked per conversation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from atri.config import Settings
from model.character.card_fields import LORE_BUDGET_CHARS, KeywordEntry, called_up
from model.character.persona import Persona, load_persona
from model.character.prompt import Lore, Room, Window, fit_prompt
from model.engines.echo import EchoEngine
from model.protocol import Character, ChatRequest
from model.service import ChatService

SHIP = {"keys": ["Eden"], "content": "The Eden is {{char}}'s sunken ship.", "insertion_order": 2}
DEBT = {"keys": [], "content": "Kazuma owes her money.", "constant": True}


def write_card(tmp_path: Path, entries: list[dict[str, Any]], **fields: Any) -> Path:
    data = {
        "name": "Aqua",
        "description": "{{char}} is a goddess who helps {{user}}.",
        "personality": "cheerful, clumsy",
        "first_mes": "*{{char}} waves.* Hello, {{user}}!",
        "character_book": {"entries": entries, **fields.pop("book", {})},
        **fields,
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    return path


def card(tmp_path: Path, entries: list[dict[str, Any]], **fields: Any) -> Persona:
    return load_persona(write_card(tmp_path, entries, **fields))


def told(persona: Persona, *messages: str) -> list[str]:
    return [entry.content for entry in persona.called_up_lore(list(messages))]


class RecordingEcho(EchoEngine):
    """The echo engine, keeping every prompt it was given."""

    def __init__(self) -> None:
        super().__init__("Aqua heard: ")
        self.seen: list[list[dict[str, str]]] = []

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.seen += batch
        return await super().generate(batch, gen, limits)


def req(text: str, user: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id=user, text=text, display_name=user)


async def test_a_key_in_the_message_tells_the_entry_before_it_and_the_system_prompt_stays(
    settings: Settings, tmp_path: Path
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(write_card(tmp_path, [SHIP, DEBT]))
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine=engine) as service:
        await service.chat(req("Have you ever seen the Eden?", "u1"))
        await service.chat(req("Good morning!", "u2"))
        stored = await service.memory.history(service.scope_for("test", "u1"))
    named, other = engine.seen
    assert named[0] == other[0]  # the same system prompt, for the prefix cache
    assert "[Background] Kazuma owes her money." in named[0]["content"]
    assert "Eden" not in named[0]["content"]
    assert named[-1]["content"] == (
        "(Background that matters here)\nThe Eden is Aqua's sunken ship.\n\n"
        "Have you ever seen the Eden?"
    )
    assert other[-1]["content"] == "Good morning!"
    # What she remembers is what was said, not the note.
    assert stored[0].content == "Have you ever seen the Eden?"


async def test_a_key_her_last_reply_named_still_tells_the_entry(
    settings: Settings, tmp_path: Path
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(write_card(tmp_path, [SHIP]))
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine=engine) as service:
        await service.chat(req("Tell me about the eden", "u1"))  # echoed: her reply names it
        await service.chat(req("What happened there?", "u1"))
    assert engine.seen[-1][-1]["content"].endswith(
        "The Eden is Aqua's sunken ship.\n\nWhat happened there?"
    )


async def test_a_clients_own_character_gets_no_entry_of_the_card(
    settings: Settings, tmp_path: Path
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(write_card(tmp_path, [SHIP]))
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine=engine) as service:
        own = ChatRequest(
            platform="test", user_id="", text="The Eden?", system_prompt="You are Bob."
        )
        await service.chat(own)
    assert engine.seen[-1][-1]["content"] == "The Eden?"


def test_keys_match_in_any_case_unless_the_entry_is_case_sensitive(tmp_path: Path) -> None:
    strict = {"keys": ["Eden"], "content": "Strict.", "case_sensitive": True}
    # SillyTavern writes its own switch under extensions.
    st_strict = {"keys": ["Eden"], "content": "ST strict.", "extensions": {"case_sensitive": True}}
    # Not recursive: the ship's own text says "Eden" as written.
    persona = card(tmp_path, [SHIP, strict, st_strict], book={"recursive_scanning": False})
    assert told(persona, "the EDEN sank") == ["The Eden is Aqua's sunken ship."]
    # Told by insertion_order (the ship's is 2, theirs 0; of equal ones, the later first).
    assert told(persona, "the Eden sank") == [
        "ST strict.",
        "Strict.",
        "The Eden is Aqua's sunken ship.",
    ]


def test_secondary_keys_narrow_a_selective_entry(tmp_path: Path) -> None:
    both = {"keys": ["Eden"], "secondary_keys": ["captain"], "selective": True, "content": "Both."}
    ignored = {"keys": ["Eden"], "secondary_keys": ["captain"], "selective": False, "content": "1"}
    not_any = {
        "keys": ["Eden"],
        "secondary_keys": ["captain"],
        "selective": True,
        "content": "Not the captain.",
        "extensions": {"selectiveLogic": 2},
    }
    # Not recursive: "Not the captain." would call up "Both." by its own text.
    persona = card(tmp_path, [both, ignored, not_any], book={"recursive_scanning": False})
    assert told(persona, "the Eden") == ["Not the captain.", "1"]  # of equal order, later first
    assert told(persona, "the Eden's Captain") == ["1", "Both."]
    assert told(persona, "the captain") == []


def test_only_the_last_scan_depth_messages_are_searched(tmp_path: Path) -> None:
    old = ["the Eden", "hm", "ok", "sure", "and then?"]
    assert told(card(tmp_path, [SHIP]), *old) == []  # named five messages ago
    assert told(card(tmp_path, [SHIP]), *old[:4]) == ["The Eden is Aqua's sunken ship."]
    deep = card(tmp_path, [SHIP], book={"scan_depth": 5})
    assert told(deep, *old) == ["The Eden is Aqua's sunken ship."]
    one = card(tmp_path, [{**SHIP, "extensions": {"scan_depth": 1}}])
    assert told(one, "the Eden", "and then?") == []


def test_whole_words_and_regular_expressions(tmp_path: Path) -> None:
    word = {"keys": ["cat"], "content": "Word.", "extensions": {"match_whole_words": True}}
    slashed = {"keys": ["/sh[io]p/i"], "content": "Slashed."}
    flagless = {"keys": ["/^Hi\\b/"], "content": "Flagless."}
    broken = {"keys": ["/(unclosed/"], "content": "Broken."}
    persona = card(tmp_path, [word, slashed, flagless, broken])
    assert told(persona, "a catapult SHIP") == ["Slashed."]
    assert told(persona, "Hi, a cat!") == ["Flagless.", "Word."]  # of equal order, later first
    assert told(persona, "hi") == []  # no `i` flag: its case as written


def test_called_up_entries_keep_within_the_budget_by_priority(tmp_path: Path) -> None:
    half = "x" * (LORE_BUDGET_CHARS // 2 - 10)
    entries = [
        {"keys": ["Eden"], "content": "low " + half, "insertion_order": 1, "priority": 1},
        {"keys": ["Eden"], "content": "high " + half, "insertion_order": 3, "priority": 9},
        {"keys": ["Eden"], "content": "mid " + half, "insertion_order": 2, "priority": 5},
        {"keys": ["Eden"], "content": "short", "insertion_order": 0, "priority": 0},
    ]
    said = told(card(tmp_path, entries), "the Eden")
    # The two highest priorities fill the budget, the short one fits beside them; told
    # by insertion_order.
    assert [s.split()[0] for s in said] == ["short", "mid", "high"]
    assert sum(len(s) for s in said) <= LORE_BUDGET_CHARS


def test_the_load_note_counts_each_kind_of_entry(tmp_path: Path) -> None:
    entries = [
        DEBT,
        SHIP,
        {**SHIP, "content": "Off.", "enabled": False},
        {**SHIP, "content": "Off in SillyTavern.", "disable": True},
        {**SHIP, "content": "y" * (LORE_BUDGET_CHARS + 1)},
    ]
    persona = card(tmp_path, entries, book={"scan_depth": 6})
    assert persona.unused == [
        "character_book: 1 entry always in the system prompt; 1 entry with keys, told "
        "where one is in the last 6 messages; 2 entries disabled; 1 entry not used (over "
        "the 2000 characters the prompt takes of them)"
    ]
    assert card(tmp_path, [DEBT]).unused == []  # all constant and in: nothing to say


def test_keyword_entries_survive_an_export(tmp_path: Path) -> None:
    entry = {
        **SHIP,
        "secondary_keys": ["captain"],
        "selective": True,
        "case_sensitive": True,
        "priority": 4,
        "extensions": {"selectiveLogic": 3, "scan_depth": 2},
    }
    persona = card(tmp_path, [DEBT, entry], book={"scan_depth": 7})
    again = Persona.from_card_v2(persona.to_card_v2())
    assert again.keyword_lore == persona.keyword_lore
    assert again.lore_scan_depth == 7
    assert again.system_prompt() == persona.system_prompt()


def test_the_note_leads_the_message_after_the_room_lines_and_is_counted() -> None:
    class Line:
        user_id, display_name, content = "u2", "Bo", "hi all"

    window = Window(context_window=2000, max_new_tokens=100)
    lore = Lore(["Fact one.", "Fact two."], "(Background)")
    fitted = fit_prompt(
        "sys", [], "the Eden?", len, window, "Al", room_context=Room([Line()], 0.5), lore=lore
    )
    assert fitted.messages[-1]["content"] == (
        "（群里其他人刚才说的话）\nBo：hi all\n\n(Background)\nFact one.\nFact two.\n\nAl：the Eden?"
    )
    assert fitted.lore_shown
    plain = fit_prompt("sys", [], "the Eden?", len, window, "Al", room_context=Room([Line()], 0.5))
    assert fitted.prompt_tokens - plain.prompt_tokens == len(lore.block()) + 1
    # Where the note does not fit whole, it is left out, never cut.
    small = Window(context_window=160, max_new_tokens=100)
    long_lore = Lore(["z" * 200])
    assert fit_prompt("sys", [], "the Eden?", len, small, lore=long_lore).messages[-1] == {
        "role": "user",
        "content": "the Eden?",
    }


def test_called_up_reads_keys_as_given() -> None:
    entry = KeywordEntry(content="C.", keys=["東京"])
    assert [e.content for e in called_up([entry], ["我去了東京。"], 4)] == ["C."]


async def test_alternate_greetings_are_picked_per_conversation_and_stay(
    settings: Settings, tmp_path: Path
) -> None:
    greetings = [f"Greeting {i}, {{{{user}}}}." for i in range(1, 6)]
    settings.model.engine = "echo"
    settings.persona.card = str(write_card(tmp_path, [], alternate_greetings=greetings))
    async with await ChatService.open(settings) as service:
        character = await service.character()
    assert character.greeting == "*{{char}} waves.* Hello, {{user}}!"
    assert character.greetings == [character.greeting, *greetings]
    picks = {character.greeting_of(f"test:user{i}") for i in range(40)}
    assert len(picks) > 1 and picks <= set(character.greetings)
    # The same conversation gets the same one in another process, as a remote worker's
    # answer read again.
    again = Character.model_validate_json(character.model_dump_json())
    assert all(
        again.greeting_of(f"test:user{i}") == character.greeting_of(f"test:user{i}")
        for i in range(40)
    )
    assert character.greeting_of("") == character.greeting
    # A worker from before alternate greetings: its one greeting.
    assert Character(name="A", greeting="Hi", user_name="you").greeting_of("k") == "Hi"


def test_a_scene_only_in_first_mes_keeps_that_greeting(tmp_path: Path) -> None:
    persona = card(
        tmp_path,
        [],
        description="",
        personality="",
        first_mes="*You wake up in a dungeon.*",
        alternate_greetings=["*You wake up on a beach.*"],
    )
    assert persona.greetings == ["*You wake up in a dungeon.*"]
    assert "dungeon" in persona.system_prompt()


def test_a_key_expression_that_backtracks_without_end_is_given_up_quickly() -> None:
    """A card's `(a+)+$` against a member's "aaaa…b" would backtrack for hours in `re`;
    the search stops at KEY_SEARCH_SECONDS and the entry is not called up."""
    entry = KeywordEntry(content="lore", keys=["/(a+)+$/"])
    started = time.perf_counter()
    assert not entry.is_called_up("a" * 40 + "b")
    assert time.perf_counter() - started < 2
    assert entry.is_called_up("aaaa")

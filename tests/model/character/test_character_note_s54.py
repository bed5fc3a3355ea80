"""A card's character's note (SillyTavern's depth prompt) is told at its depth in the chat,
never in the system prompt, which stays the same cached text: always there under her card,
its tokens held back with the system prompt's, its depth and role kept by an export."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from model.character.persona import Persona, load_persona
from model.character.prompt import (
    CharacterNote,
    Lore,
    PromptTooLong,
    Recalled,
    Turn,
    Window,
    check_room,
    fit_prompt,
)
from model.engines.base import Generation
from model.evaluation.runner import probe_chat
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.character.test_lorebook_s53 import RecordingEcho

NOTE = "[{{char}} cries easily. Never speak for {{user}}.]"
TOLD = "(Character's note)\n[Aqua cries easily. Never speak for {{user}}.]"


def card_path(tmp_path: Path, depth_prompt: dict[str, Any] | None, **data: Any) -> Path:
    fields = {"name": "Aqua", "description": "{{char}} is a goddess.", **data}
    if depth_prompt is not None:
        fields["extensions"] = {"depth_prompt": depth_prompt}
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": fields}), encoding="utf-8")
    return path


def card(tmp_path: Path, depth_prompt: dict[str, Any] | None, **data: Any) -> Persona:
    return load_persona(card_path(tmp_path, depth_prompt, **data))


def turns(*said: str) -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", text) for i, text in enumerate(said)]


def shown(messages: list[dict[str, str]]) -> list[str]:
    return [m["content"] for m in messages[1:]]


@pytest.mark.parametrize(
    ("given", "depth", "role"),
    [
        ({"prompt": NOTE}, 4, "system"),  # SillyTavern's defaults
        ({"prompt": NOTE, "depth": 0, "role": "user"}, 0, "user"),
        ({"prompt": NOTE, "depth": "2", "role": "Assistant"}, 2, "assistant"),
        ({"prompt": NOTE, "depth": 7, "role": 1}, 7, "user"),  # a role by SillyTavern's number
        ({"prompt": NOTE, "depth": -3, "role": "narrator"}, 4, "system"),  # neither is one
        ({"prompt": NOTE, "depth": True, "role": None}, 4, "system"),
    ],
)
def test_depth_and_role_are_read_and_an_export_keeps_them(
    tmp_path: Path, given: dict[str, Any], depth: int, role: str
) -> None:
    persona = card(tmp_path, given)
    assert (persona.character_note, persona.character_note_depth) == (NOTE, depth)
    assert persona.character_note_role == role
    exported = persona.to_card_v2()["data"]["extensions"]["depth_prompt"]
    assert exported == {"prompt": NOTE, "depth": depth, "role": role}
    again = Persona.from_card_v2(persona.to_card_v2())
    assert (again.character_note, again.character_note_depth, again.character_note_role) == (
        NOTE,
        depth,
        role,
    )
    # The export writes the depth ATRI tells it at, so a depth it had to replace is not said again.
    assert again.unused == [n for n in persona.unused if "depth_prompt.depth" not in n]
    assert again.system_prompt() == persona.system_prompt()


def test_the_system_prompt_is_the_same_text_with_or_without_a_note(tmp_path: Path) -> None:
    with_note = card(tmp_path, {"prompt": NOTE, "depth": 2})
    without = card(tmp_path, None)
    assert with_note.system_prompt() == without.system_prompt()
    assert with_note.note_in_chat() == CharacterNote(
        "[Aqua cries easily. Never speak for {{user}}.]", 2, "(Character's note)"
    )
    assert without.note_in_chat() is None
    assert card(tmp_path, {"prompt": "  "}).note_in_chat() is None
    assert "depth_prompt" not in without.to_card_v2()["data"]["extensions"]


def test_a_note_as_her_own_message_is_said_at_load(tmp_path: Path) -> None:
    hers = card(tmp_path, {"prompt": NOTE, "depth": 3, "role": "assistant"})
    assert hers.unused == [
        "extensions.depth_prompt: the character's note, as her own message (role "
        "assistant), is told as a note in a user's turn, not as her words"
    ]
    assert card(tmp_path, {"prompt": NOTE, "role": "user"}).unused == []
    assert card(tmp_path, {"prompt": "", "role": "assistant"}).unused == []


def test_a_toml_card_gives_depth_and_role_too(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    path.write_text(
        'name = "Aqua"\ncharacter_note = "Be brief."\ncharacter_note_depth = 1\n'
        'character_note_role = "assistant"\n',
        encoding="utf-8",
    )
    persona = load_persona(path)
    assert persona.note_in_chat() == CharacterNote("Be brief.", 1, "(Character's note)")
    assert len(persona.unused) == 1 and "role assistant" in persona.unused[0]
    path.write_text('name = "Aqua"\ncharacter_note_depth = -1\n', encoding="utf-8")
    with pytest.raises(Exception, match="character_note_depth"):
        load_persona(path)


def note(depth: int, text: str = "Cry.") -> CharacterNote:
    return CharacterNote(text, depth, "(N)")


def test_the_note_lands_that_many_messages_up_the_chat() -> None:
    earlier = turns("q1", "a1", "q2", "a2")
    window = Window(10_000, 10)
    placed = {
        depth: shown(fit_prompt("sys", earlier, "q3", len, window, note=note(depth)).messages)
        for depth in (0, 1, 2, 3, 4, 9)
    }
    assert placed[0] == ["q1", "a1", "q2", "a2", "q3\n\n(N)\nCry."]
    assert placed[1] == ["q1", "a1", "q2", "a2", "(N)\nCry.\n\nq3"]
    # Two up is her last reply: the note ends the question before it, never her words.
    assert placed[2] == ["q1", "a1", "q2\n\n(N)\nCry.", "a2", "q3"]
    assert placed[3] == ["q1", "a1", "(N)\nCry.\n\nq2", "a2", "q3"]
    assert placed[4] == ["q1\n\n(N)\nCry.", "a1", "q2", "a2", "q3"]
    # Deeper than the chat: it leads its first person's turn.
    assert placed[9] == ["(N)\nCry.\n\nq1", "a1", "q2", "a2", "q3"]
    # The system prompt is the same text, whatever the note.
    fitted = fit_prompt("sys", earlier, "q3", len, window, note=note(2))
    assert fitted.messages[0] == {"role": "system", "content": "sys"}


def test_the_note_is_counted_as_a_lorebook_note_and_leads_one_at_its_depth() -> None:
    earlier = turns("q1", "a1", "q2", "a2")
    window = Window(10_000, 10)
    plain = fit_prompt("sys", earlier, "q3", len, window)
    noted = fit_prompt("sys", earlier, "q3", len, window, note=note(2))
    assert noted.prompt_tokens - plain.prompt_tokens == len("(N)\nCry.") + 1
    assert not noted.lore_shown
    lore = Lore.placed([("Deep.", 2), ("Near.", None)], "(B)")
    both = fit_prompt("sys", earlier, "q3", len, window, lore=lore, note=note(2))
    assert shown(both.messages) == [
        "q1",
        "a1",
        "q2\n\n(N)\nCry.\n\n(B)\nDeep.",
        "a2",
        "(B)\nNear.\n\nq3",
    ]
    lore_only = fit_prompt("sys", earlier, "q3", len, window, lore=lore)
    assert both.prompt_tokens - lore_only.prompt_tokens == len("(N)\nCry.") + 1


def test_the_note_goes_in_before_anything_else_takes_its_share() -> None:
    """A history budget with no room for anything: the lorebook's note, the summary and
    every earlier exchange are left out, the character's note is not."""
    earlier = turns("q1", "a1", "q2", "a2")
    lore = Lore.placed([("Near.", None)], "(B)")
    window = Window(10_000, 10, max_history_tokens=0)
    fitted = fit_prompt(
        "sys",
        earlier,
        "q3",
        len,
        window,
        lore=lore,
        note=note(4),
        recalled=Recalled("old", "(R)"),
    )
    assert shown(fitted.messages) == ["(N)\nCry.\n\nq3"]
    assert fitted.dropped_turns == 4 and not fitted.lore_shown and not fitted.summary_shown
    overhead = 8  # TEMPLATE_OVERHEAD_TOKENS, the system's and the new message's
    assert fitted.prompt_tokens == len("sys") + overhead + len("(N)\nCry.") + 1 + 2 + overhead


def test_a_long_message_keeps_the_room_the_note_takes_and_a_note_too_long_is_refused() -> None:
    """The note is reserved as the system prompt is: the new message is cut to what they
    leave, and a note that leaves no room for a message is `PromptTooLong`, as a system
    prompt that long was when it held the note."""
    long_note = note(1, "x" * 60)
    note_tokens = len(long_note.block()) + 1
    window = Window(context_window=200, max_new_tokens=50)
    fitted = fit_prompt("sys", [], "y" * 500, len, window, note=long_note)
    assert fitted.message_cut
    assert fitted.prompt_tokens <= 200 - 50
    plain = fit_prompt("sys", [], "y" * 500, len, window)
    assert len(plain.text) - len(fitted.text) == note_tokens
    assert fitted.prompt_tokens == plain.prompt_tokens  # the note took what the message lost
    small = Window(context_window=len("sys") + 16 + 16 + 50 + note_tokens - 1, max_new_tokens=50)
    fit_prompt("sys", [], "hi", len, small)  # fits without the note
    with pytest.raises(PromptTooLong) as refused:
        fit_prompt("sys", [], "hi", len, small, note=long_note)
    assert refused.value.system_tokens == len("sys") + 8 + note_tokens
    with pytest.raises(PromptTooLong):
        check_room("sys", len, small, long_note)
    check_room("sys", len, small)


async def test_the_worker_tells_the_note_at_its_depth_under_her_card(
    settings: Settings, tmp_path: Path
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(card_path(tmp_path, {"prompt": NOTE, "depth": 2}))
    engine = RecordingEcho()
    async with await ChatService.open(settings, engine) as service:
        replies = [
            await service.chat(ChatRequest(platform="test", user_id="u1", text=text))
            for text in ("hi", "how are you?", "bye")
        ]
    system = engine.seen[0][0]["content"]
    assert "cries" not in system
    assert all(prompt[0]["content"] == system for prompt in engine.seen)
    # Two up: the new message's turn when it is the only one, then the question before
    # her last reply, so it stays near the end of a long chat.
    assert engine.seen[0][-1]["content"] == f"{TOLD}\n\nhi"
    assert shown(engine.seen[1])[0] == f"hi\n\n{TOLD}"
    assert shown(engine.seen[2]) == [
        "hi",
        # The echo says back what it was given, her reply's {{user}} filled in.
        "Aqua heard: " + TOLD.replace("{{user}}", "you") + "\n\nhi",
        f"how are you?\n\n{TOLD}",
        "Aqua heard: how are you?",
        "bye",
    ]
    # Counted exactly as the fitting counted it: the echo's tokens are characters.
    counted = len(system) + 8 + len(TOLD) + 1 + len("hi") + 8
    assert replies[0].prompt_tokens == counted


async def test_no_note_under_a_trained_prompt_nor_a_clients_own(
    settings: Settings, tmp_path: Path
) -> None:
    """A version trained with its short prompt learned her without the card, so it gets
    none of it, as before; a client's own system prompt gets no note either."""

    class LiveVersionEcho(RecordingEcho):
        @property
        def adapter_version(self) -> str:
            return "v1"

        async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
            made: list[Generation] = await super().generate(batch, gen, limits)
            for generation in made:
                generation.adapter_version = "v1"
            return made

    settings.model.engine = "echo"
    settings.persona.card = str(card_path(tmp_path, {"prompt": NOTE, "depth": 1}))
    engine = LiveVersionEcho()
    async with await ChatService.open(settings, engine) as service:
        service.reloader.prompts["v1"] = "You are Aqua."
        await service.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        service.reloader.prompts["v1"] = service.card_prompt  # trained with no prompt
        await service.chat(ChatRequest(platform="test", user_id="u2", text="hi"))
        await service.chat(
            ChatRequest(platform="test", user_id="u3", text="hi", system_prompt="You are Bob.")
        )
    trained, card_served, client = engine.seen
    assert trained == [
        {"role": "system", "content": "You are Aqua."},
        {"role": "user", "content": "hi"},
    ]
    assert card_served[-1]["content"] == f"{TOLD}\n\nhi"
    assert client[-1]["content"] == "hi" and "cries" not in client[0]["content"]


async def test_a_note_leaving_no_room_is_said_at_start_and_answered_with_her_error_line(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.model.engine = "echo"
    settings.generation.max_new_tokens = 100
    settings.persona.card = str(card_path(tmp_path, {"prompt": "x" * 3000}))
    engine = RecordingEcho()
    system = load_persona(Path(settings.persona.card)).system_prompt()
    engine.context_window = len(system) + 8 + 100 + 8 + 16 + 500  # room without the note
    with caplog.at_level(logging.ERROR):
        async with await ChatService.open(settings, engine) as service:
            reply = await service.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
    assert reply.status == "error" and engine.seen == []
    said = [r.getMessage() for r in caplog.records if "character prompt takes" in r.getMessage()]
    assert said and "Until then every chat gets her error line" in said[0], said


async def test_the_role_warning_is_logged_at_start_not_per_message(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.model.engine = "echo"
    settings.persona.card = str(card_path(tmp_path, {"prompt": NOTE, "role": "assistant"}))
    with caplog.at_level(logging.WARNING):
        async with await ChatService.open(settings) as service:
            for text in ("hi", "hello"):
                await service.chat(ChatRequest(platform="test", user_id="u1", text=text))
    said = [r.getMessage() for r in caplog.records if "depth_prompt" in r.getMessage()]
    assert len(said) == 1 and "role assistant" in said[0], said


def test_persona_show_prints_the_system_prompt_and_says_where_the_note_goes(
    tmp_path: Path,
) -> None:
    card_path(tmp_path, {"prompt": NOTE, "depth": 0})
    config = tmp_path / "aqua.toml"
    config.write_text('[persona]\ncard = "card.json"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "persona", "show"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("You are Aqua.") and "cries" not in result.stdout
    told = " ".join(result.stderr.split())
    assert (
        "Character card: the character's note is not in the system prompt; it is told after "
        "the new message with every message, in a person's turn: (Character's note) [Aqua "
        "cries easily. Never speak for {{user}}.]" in told
    ), told


def test_eval_probes_under_the_card_carry_the_note_as_the_worker_places_it() -> None:
    assert probe_chat("card", "Who are you?", note(1)) == [
        {"role": "system", "content": "card"},
        {"role": "user", "content": "(N)\nCry.\n\nWho are you?"},
    ]
    assert probe_chat("card", "Who are you?", note(0))[-1]["content"] == "Who are you?\n\n(N)\nCry."
    assert probe_chat("trained", "Who are you?") == [
        {"role": "system", "content": "trained"},
        {"role": "user", "content": "Who are you?"},
    ]

"""Who said what, in her prompt, is written with the colon of the language she speaks:
room lines and a shared conversation's messages read "Aya：Eileen, how's…" in an English
prompt (the full-width Chinese colon whatever the language)."""

from __future__ import annotations

from dataclasses import dataclass

from atri.config import Settings
from model.character.prompt import Room, Turn, Window, fit_prompt, fit_room, speaker_text
from model.protocol import ChatRequest
from model.service import ChatService


@dataclass(frozen=True)
class Heard:
    user_id: str
    display_name: str
    content: str


def count(text: str) -> int:
    return len(text)


def test_room_lines_and_speakers_take_the_colon_given() -> None:
    assert speaker_text("Eileen, how's the weather?", "Aya", True, ": ") == (
        "Aya: Eileen, how's the weather?"
    )
    room = Room([Heard("1", "Ryuji", "it's raining")], 0.5, "(heard)")
    assert fit_room(room, {"1": "Ryuji"}, count, 1000, ": ")[0] == ["Ryuji: it's raining"]
    earlier = [Turn("user", "first"), Turn("assistant", "hi")]
    fitted = fit_prompt(
        "SYS", earlier, "and now?", count, Window(10_000, 10), "Ann", True, room, "2", colon=": "
    )
    shown = "\n".join(m["content"] for m in fitted.messages)
    assert "Ryuji: it's raining" in shown and "Ann: and now?" in shown
    assert "：" not in shown
    # Chinese, and every caller that names none, keeps the full-width colon.
    assert speaker_text("在吗", "阿强", True) == "阿强：在吗"


def said(text: str, user: str, name: str, addressed: bool = True) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=name,
        text=text,
        channel_id="g1",
        addressed=addressed,
    )


async def test_an_english_prompt_names_speakers_with_an_english_colon(
    echo_settings: Settings,
) -> None:
    """The echo engine answers with the message she was given: the room lines in it."""
    echo_settings.persona.language = "en"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(said("it's raining", "2", "Ryuji", addressed=False))
        reply = await service.chat(said("Eileen, how's the weather?", "1", "Aya"))
    assert "Ryuji: it's raining" in reply.text, reply.text
    assert "Aya: Eileen, how's the weather?" in reply.text, reply.text
    assert "：" not in reply.text

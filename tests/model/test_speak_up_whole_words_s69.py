"""Speaking up at her name: "ATRI" calls her, "The Matrix", "atrium" and "Patrick" did
too (a substring), in every English group that listed its channel."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.room import SpeakUp
from model.service import ChatService
from tests.model.test_room import RecordingEngine, said
from tests.model.test_speak_up import speaking_up


def called(text: str, words: list[str]) -> bool:
    speak_up = SpeakUp(["g"], 0.0, words, cooldown_seconds=0, max_per_hour=1000)
    return speak_up.wants_to("g", text)


@pytest.mark.parametrize(
    "text",
    ["I rewatched The Matrix", "a nice atrium", "Patrick, theatrical as ever", "ATRIUM"],
)
def test_her_name_inside_a_longer_word_does_not_call_her(text: str) -> None:
    assert not called(text, ["ATRI", "亚托莉"])


@pytest.mark.parametrize(
    "text",
    [
        "ATRI, are you there?",
        "hey atri",
        "Atri's crab",
        "(ATRI)",
        "ATRIは?",
        "亚托莉在吗",
        "我和亚托莉",
    ],
)
def test_her_name_as_a_word_calls_her(text: str) -> None:
    assert called(text, ["ATRI", "亚托莉"])


def test_a_set_word_is_a_whole_word_too() -> None:
    assert not called("this is fine", ["hi"])
    assert called("hi all", ["hi"])
    assert called("good morning everyone", ["good morning"])


async def test_the_worker_does_not_speak_up_at_the_matrix(echo_settings: Settings) -> None:
    speaking_up(echo_settings, speak_up_probability=0.0)
    engine = RecordingEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        heard = await service.chat(said("I rewatched The Matrix", "1", "Bob"))
        answered = await service.chat(said("亚托莉，早上好", "1", "Bob"))
    assert (heard.status, answered.status) == ("heard", "ok")

"""Speaking up: she replies unaddressed on a scripted engine that records its prompts."""

from __future__ import annotations

import random

from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.test_room import RecordingEngine, said

SEED = 7


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def speaking_up(settings: Settings, **keys: object) -> Settings:
    settings.room.speak_up_channels = ["g1"]
    settings.room.speak_up_cooldown_seconds = 0
    settings.room.speak_up_max_per_hour = 1000
    # Summaries are background engine work: they would add prompts these tests count.
    settings.memory.summaries = False
    for key, value in keys.items():
        setattr(settings.room, key, value)
    return settings


async def statuses(service: ChatService, requests: list[ChatRequest]) -> list[str]:
    return [(await service.chat(r)).status for r in requests]


async def test_off_by_default_and_only_in_listed_channels(echo_settings: Settings) -> None:
    engine = RecordingEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        assert await statuses(service, [said("亚托莉在吗", "1", "甲")]) == ["heard"]
    speaking_up(echo_settings, speak_up_probability=1.0)
    async with await ChatService.open(echo_settings, engine) as service:
        assert await statuses(service, [said("亚托莉在吗", "1", "甲", channel="g2")]) == ["heard"]
        assert engine.prompts == []
        reply = await service.chat(said("大家好", "1", "甲"))
    # An ordinary reply, with the room she heard before it in the prompt.
    assert reply.status == "ok"
    assert reply.text == "亚托莉听到了：（群里其他人刚才说的话）\n甲：亚托莉在吗\n\n甲：大家好"


async def test_she_speaks_up_with_the_seeded_probability(echo_settings: Settings) -> None:
    speaking_up(echo_settings, speak_up_probability=0.3)
    engine = RecordingEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        service.speak_up.rng = random.Random(SEED)
        got = await statuses(service, [said(f"第{n}句", "1", "甲") for n in range(40)])
    dice = random.Random(SEED)
    expected = ["ok" if dice.random() < 0.3 else "heard" for _ in range(40)]
    assert got == expected
    assert 0 < got.count("ok") < 40
    assert len(engine.prompts) == got.count("ok")


async def test_her_names_and_configured_words_make_her_speak_up(echo_settings: Settings) -> None:
    speaking_up(echo_settings, speak_up_probability=0.0, speak_up_words=["机器人"])
    engine = RecordingEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        got = await statuses(
            service,
            [
                said("今天天气不错", "1", "甲"),
                said("atri 会做饭吗", "1", "甲"),  # her alias, any case
                said("亚托莉呢", "2", "乙"),
                said("机器人也会累吗", "2", "乙"),
            ],
        )
    assert got == ["heard", "ok", "ok", "ok"]
    # What she heard first is in the prompt of her unaddressed reply, like any other.
    assert "甲：今天天气不错" in engine.prompts[0][-1]["content"]


async def test_a_cooldown_and_an_hourly_cap_per_channel(echo_settings: Settings) -> None:
    speaking_up(
        echo_settings,
        speak_up_channels=["g1", "g2"],
        speak_up_probability=1.0,
        speak_up_cooldown_seconds=60,
        speak_up_max_per_hour=3,
    )
    async with await ChatService.open(echo_settings, RecordingEngine()) as service:
        clock = Clock()
        service.speak_up.clock = clock

        async def at(seconds: float, channel: str = "g1") -> str:
            clock.now = 1000.0 + seconds
            return (await service.chat(said("嗯", "1", "甲", channel=channel))).status

        assert await at(0) == "ok"
        assert await at(30) == "heard"  # cooling down
        assert await at(30, "g2") == "ok"  # another channel has its own
        assert await at(61) == "ok"
        assert await at(200) == "ok"
        assert await at(300) == "heard"  # three this hour: the cap
        assert await at(3601) == "ok"  # the first has left the hour


async def test_a_listed_channel_covers_its_threads(echo_settings: Settings) -> None:
    speaking_up(echo_settings, speak_up_probability=1.0)
    async with await ChatService.open(echo_settings, RecordingEngine()) as service:
        in_thread = said("大家好", "1", "甲", channel="t1")
        assert await statuses(service, [in_thread]) == ["heard"]  # no parent: not listed
        in_thread.parent_channel_id = "g1"
        assert await statuses(service, [in_thread]) == ["ok"]


async def test_never_where_room_context_is_off(echo_settings: Settings) -> None:
    speaking_up(echo_settings, speak_up_probability=1.0, off_channels=["g1"])
    async with await ChatService.open(echo_settings, RecordingEngine()) as service:
        assert await statuses(service, [said("亚托莉", "1", "甲")]) == ["heard"]

"""Races a busy worker met (session 69), on the real service and batcher:

- A rollback (an instant switch) landing on a full queue made every queued reply twice:
  each was generated with the old version's prompt, thrown away, and made again. A job
  whose prompt is for a version no longer live is now answered ungenerated.
- A message edited while it waited its turn was answered as first written, while her
  memory kept the edit.
- A Continue's rest lost its leading blank ("My name" + "is Ember" shown "My nameis").
- A reply the client's own stop string cut to nothing was generated three times and
  answered (and stored) as "……"."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from atri.config import GenerationSettings, Settings
from model.batching import Batcher
from model.engines.base import Generation
from model.engines.echo import EchoEngine
from model.memory.store import Memory
from model.protocol import ChatRequest
from model.service import ChatService
from tests.held_echo import HeldEcho


class Versioned(EchoEngine):
    """Echo under a live adapter version a test switches; rows are held until `gate`."""

    def __init__(self) -> None:
        super().__init__()
        self.live = "v1"
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.rows: list[str] = []  # the user text of each row generated

    @property
    def adapter_version(self) -> str:
        return self.live

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.started.set()
        await self.gate.wait()
        self.rows += [messages[-1]["content"] for messages in batch]
        made = await super().generate(batch, gen, limits)
        for generation in made:
            generation.adapter_version = self.live
        return made


async def test_a_queued_job_for_a_version_no_longer_live_is_not_generated() -> None:
    engine = Versioned()
    batcher = Batcher(engine, GenerationSettings(), 4, 0.0, 8)
    batcher.start()
    try:
        stale = await batcher.submit([{"role": "user", "content": "hi"}], version="v0")
        assert stale == Generation(text="", new_tokens=0, adapter_version="v1")
        assert engine.rows == []
        live = await batcher.submit([{"role": "user", "content": "hi"}], version="v1")
        assert live.text.endswith("hi") and engine.rows == ["hi"]
        anyway = await batcher.submit([{"role": "user", "content": "yo"}], version=None)
        assert anyway.text.endswith("yo")
    finally:
        await batcher.stop()


def asked(user: str, text: str, request_id: str = "") -> ChatRequest:
    return ChatRequest(platform="qq", user_id=user, text=text, request_id=request_id)


async def test_a_switch_while_replies_wait_costs_no_second_generation(
    echo_settings: Settings,
) -> None:
    engine = Versioned()
    engine.gate.clear()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        first = asyncio.create_task(service.chat(asked("1", "first")))
        await asyncio.wait_for(engine.started.wait(), 5)
        waiting = [asyncio.create_task(service.chat(asked(str(n), f"m{n}"))) for n in (2, 3)]
        await asyncio.sleep(0.2)  # their prompts are built for v1, and they wait
        engine.live = "v2"  # a rollback: instant
        engine.gate.set()
        replies = await asyncio.gather(first, *waiting)
    assert all(r.status == "ok" for r in replies)
    assert [r.adapter_version for r in replies[1:]] == ["v2", "v2"]
    # Each waiting message generated once (the first, already running, twice as before).
    assert sorted(engine.rows).count("m2") == 1 and engine.rows.count("m3") == 1


async def test_a_message_edited_while_it_waits_is_answered_as_edited(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        story = asyncio.create_task(service.chat(asked("7", "tell me a long story", "e1")))
        await asyncio.wait_for(engine.started.wait(), 5)
        hi = asked("7", "hi", "e2")
        waiting = asyncio.create_task(service.chat(hi))  # behind e1: same conversation
        await asyncio.sleep(0.1)
        edit = hi.model_copy(update={"text": "my address is street 5"}).as_edit()
        assert (await service.chat(edit)).status == "heard"
        engine.gate.set()
        await story
        reply = await waiting
    assert reply.status == "ok"
    assert reply.text.endswith("my address is street 5"), reply.text
    async with await Memory.open(Path(echo_settings.memory.path)) as memory:
        stored = [m.content for m in await memory.all_messages("qq:user:7")]
    assert stored[2] == "my address is street 5"  # what she answered is what she keeps


class Scripted(EchoEngine):
    """Answers each row with the next of `replies`."""

    def __init__(self, *replies: str) -> None:
        super().__init__()
        self.replies = list(replies)
        self.calls = 0

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [Generation(text=self.replies.pop(0), new_tokens=3) for _ in batch]


async def test_the_rest_of_a_continue_keeps_its_leading_blank(echo_settings: Settings) -> None:
    echo_settings.ooc.language = "any"  # an English rest under a Chinese card
    engine = Scripted(" is Ember. I am")
    request: Any = asked("", "Tell me about yourself.").model_copy(
        update={"reply_so_far": "Hello! My name"}
    )
    async with await ChatService.open(echo_settings, engine=engine) as service:
        reply = await service.chat(request)
    assert reply.text == " is Ember. I am"


async def test_a_reply_the_clients_stop_cuts_to_nothing_is_empty_at_once(
    echo_settings: Settings,
) -> None:
    engine = Scripted("亚托莉在呢", "亚托莉在呢", "亚托莉在呢")
    request = asked("stopper", "hi").model_copy(update={"stop": ["亚"]})
    async with await ChatService.open(echo_settings, engine=engine) as service:
        reply = await service.chat(request)
        assert (reply.status, reply.text, reply.finish_reason) == ("ok", "", "stop")
        assert engine.calls == 1  # not regenerated
    async with await Memory.open(Path(echo_settings.memory.path)) as memory:
        assert await memory.all_messages("qq:user:stopper") == []  # nothing made up stored

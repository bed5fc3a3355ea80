"""The in-process worker on the tiny model and the echo engine."""

from __future__ import annotations

import asyncio

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import Memory
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService


def req(text: str, user: str = "u1", channel: str = "") -> ChatRequest:
    return ChatRequest(
        platform="test", user_id=user, text=text, display_name=f"name-{user}", channel_id=channel
    )


async def test_tiny_model_reply_is_stored_with_adapter_tag(tiny_settings: Settings) -> None:
    async with await ChatService.open(tiny_settings) as service:
        reply = await service.chat(req("hello ATRI"))
        assert reply.status == "ok"
        assert reply.text
        history = await service.memory.history(reply.scope)
        assert [m.role for m in history] == ["user", "assistant"]
        assert history[0].content == "hello ATRI"
        assert history[0].user_id == "u1"
        assert history[1].content == reply.text


async def test_echo_engine_remembers_and_reset_hides(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        first = await service.chat(req("one"))
        assert first.text == EchoEngine.prefix + "one"
        await service.chat(req("two"))
        assert len(await service.memory.history(first.scope)) == 4
        assert await service.reset(ScopeRef(platform="test", user_id="u1")) == 4
        assert await service.memory.history(first.scope) == []
        assert len(await service.memory.all_messages(first.scope)) == 4


class RecordingEcho(EchoEngine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[dict[str, str]]] = []

    async def generate(self, batch, gen):  # type: ignore[no-untyped-def]
        self.seen += batch
        return await super().generate(batch, gen)


async def test_system_prompt_is_the_same_for_everyone_and_replies_name_the_user(
    echo_settings: Settings,
) -> None:
    engine = RecordingEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        first = await service.chat(req("早上好，{{user}}！", user="u1"))
        second = await service.chat(req("早上好，{{user}}！", user="u2"))
        # What she says to {{user}} is said to whoever is chatting...
        assert first.text == EchoEngine.prefix + "早上好，name-u1！"
        assert second.text == EchoEngine.prefix + "早上好，name-u2！"
        # ...while the prompt the model reads stays identical, so it can be cached.
        systems = {batch[0]["content"] for batch in engine.seen}
        assert len(systems) == 1 and "{{user}}" in systems.pop()
        assert (await service.memory.history(first.scope))[1].content == first.text


async def test_concurrent_requests_are_batched(tiny_settings: Settings) -> None:
    tiny_settings.worker.batch_window_ms = 200
    async with await ChatService.open(tiny_settings) as service:
        replies = await asyncio.gather(
            *(service.chat(req(f"hi {i}", user=f"u{i}")) for i in range(8))
        )
        assert all(r.status == "ok" for r in replies)
        assert service.engine.stats.generate_calls < 8


async def test_overload_gives_busy_reply(echo_settings: Settings) -> None:
    echo_settings.worker.request_timeout_seconds = 0.05
    async with await ChatService.open(echo_settings) as service:
        await service.batcher.stop()  # nobody drains the queue: every request times out
        reply = await service.chat(req("anyone there?"))
        assert reply.status == "busy"
        assert reply.text == echo_settings.worker.busy_reply
        assert await service.memory.history(reply.scope) == []


async def test_memory_survives_reopen(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        reply = await service.chat(req("remember me"))
    async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as memory:
        history = await memory.history(reply.scope)
        assert history[0].content == "remember me"


@pytest.mark.slow
async def test_offline_default_model_answers_in_english_through_the_whole_path(
    settings: Settings,
) -> None:
    settings.generation.do_sample = False
    settings.generation.max_new_tokens = 32
    async with await ChatService.open(settings) as service:
        reply = await service.chat(req("Hello! Please tell me, what do you like to eat?"))
        assert reply.status == "ok", reply.text
        letters = [c for c in reply.text if c.isalpha()]
        assert letters and sum(c.isascii() for c in letters) / len(letters) > 0.8
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == [
            "Hello! Please tell me, what do you like to eat?",
            reply.text,
        ]


async def test_the_chosen_language_reaches_lines_character_and_ooc_check(
    echo_settings: Settings,
) -> None:
    echo_settings.persona.language = "en"
    async with await ChatService.open(echo_settings) as service:
        character = await service.character()
        assert (character.name, character.language, character.user_name) == (
            "ATRI",
            "en",
            "Natsuki",
        )
        assert character.greeting.startswith("Good morning")
        empty = await service.chat(req("   "))
        assert empty.text == "Hm? What did you want to tell ATRI?"
        assert service.system_prompt.startswith("You are ATRI.")
        assert service.ooc.check("我是亚托莉，高性能的机器人！").flagged  # [ooc] language auto

"""The in-process worker on the tiny model and the echo engine."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from model.admission import RATE_WINDOW_SECONDS, RateLimiter, ScopeLocks, TokenCounts
from model.engines.base import Generation, row_limits
from model.engines.echo import EchoEngine
from model.memory import Memory, parse_export
from model.protocol import ChatRequest, ChatTurn, MessageRef, ScopeRef
from model.service import ChatService
from tests.held_echo import HeldEcho
from tests.model.conftest import V1, MakeVersion


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


@pytest.mark.parametrize("kind", ["channel", "user_in_channel", "user"])
async def test_a_channel_ref_reads_the_channel_conversation_in_history_as_in_remembered(
    echo_settings: Settings, kind: str
) -> None:
    """A ScopeRef without a user id means the whole channel: under `[memory] scope =
    "channel"` that is a conversation, and POST /history showed it empty while POST
    /memory showed its turns. Under the other scopes no conversation is the channel's."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings) as service:
        await service.chat(req("one", "u1", "c1"))
        await service.chat(req("two", "u2", "c1"))
        channel = ScopeRef(platform="test", channel_id="c1")
        history = await service.history(channel)
        assert history == (await service.remembered(channel)).turns
        said = [m.content for m in history if m.role == "user"]
        assert said == (["one", "two"] if kind == "channel" else [])
        assert await service.history(ScopeRef(platform="test")) == []


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


class SmallWindowEcho(EchoEngine):
    """Echo with a 400-token window that keeps every prompt it was given."""

    context_window = 400

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[dict[str, str]]] = []

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.seen += batch
        return await super().generate(batch, gen, limits)


async def test_a_client_asking_for_a_short_reply_keeps_more_of_its_conversation(
    echo_settings: Settings,
) -> None:
    """A /v1 client (SillyTavern) sends its whole chat and a `max_tokens` below
    `[generation] max_new_tokens`: the prompt leaves room for that reply, not for the
    setting's, so history that fits beside it is kept, not dropped."""
    echo_settings.generation.max_new_tokens = 300
    engine = SmallWindowEcho()
    context = [
        ChatTurn(role=("user", "assistant")[i % 2], content=f"turn {i:02d}") for i in range(40)
    ]

    def asked(cap: int | None) -> ChatRequest:
        return ChatRequest(
            platform="openai",
            user_id="",
            text="and now?",
            context=context,
            system_prompt="You are ATRI.",
            max_new_tokens=cap,
        )

    async with await ChatService.open(echo_settings, engine=engine) as service:
        full = await service.chat(asked(None))
        short = await service.chat(asked(20))
    full_prompt, short_prompt = engine.seen
    assert full.status == short.status == "ok"
    assert len(short_prompt) > len(full_prompt) + 10  # many more earlier turns kept
    assert short_prompt[-2]["content"] == "turn 39" and short_prompt[-1]["content"] == "and now?"
    # Each prompt leaves room for its own reply inside the window, and no more than that.
    assert full.prompt_tokens + 300 <= engine.context_window
    assert short.prompt_tokens + 20 <= engine.context_window < short.prompt_tokens + 300


async def test_concurrent_requests_are_batched(tiny_settings: Settings) -> None:
    tiny_settings.worker.batch_window_ms = 200
    async with await ChatService.open(tiny_settings) as service:
        replies = await asyncio.gather(
            *(service.chat(req(f"hi {i}", user=f"u{i}")) for i in range(8))
        )
        assert all(r.status == "ok" for r in replies)
        assert service.engine.stats.generate_calls < 8


async def test_overload_gives_busy_reply(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    echo_settings.worker.request_timeout_seconds = 0.05
    async with await ChatService.open(echo_settings) as service:
        await service.batcher.stop()  # nobody drains the queue: every request times out
        with caplog.at_level(logging.WARNING, logger="model.service"):
            reply = await service.chat(req("anyone there?"))
        assert reply.status == "busy"
        assert reply.text == echo_settings.worker.busy_reply
        assert await service.memory.history(reply.scope) == []
    # The log says why: the deadline, not an empty reason.
    assert any(r.getMessage().endswith("no answer within 0.05 s") for r in caplog.records)


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


class SlowEcho(EchoEngine):
    """Echo that takes `seconds` per batch, as a real model does."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    async def generate(self, batch, gen):  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.seconds)
        return await super().generate(batch, gen)


def test_token_count_cache_is_bounded_by_bytes() -> None:
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return len(text)

    counts = TokenCounts(count, max_bytes=64 * 1024)
    texts = [f"{i:06d}" + "x" * 4000 for i in range(100)]
    assert [counts(t) for t in texts] == [len(t) for t in texts]
    assert counts.bytes <= 64 * 1024 and 0 < len(counts) < 100
    assert counts(texts[-1]) == len(texts[-1]) and len(counted) == 100  # remembered
    huge = "y" * 1_000_000
    assert counts(huge) == 1_000_000 and counts.bytes <= 64 * 1024  # counted, not kept


def test_rate_limiter_forgets_users_gone_idle() -> None:
    limiter = RateLimiter(per_minute=2)
    for i in range(1000):
        assert limiter.allow(f"user{i}", now=1000.0)
    assert limiter.allow("user0", now=1001.0) and not limiter.allow("user0", now=1002.0)
    assert limiter.allow("late", now=1000.0 + RATE_WINDOW_SECONDS + 1)
    assert len(limiter) == 1


async def test_scope_locks_drop_idle_entries_but_never_one_held_or_awaited() -> None:
    locks = ScopeLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def turn(name: str) -> None:
        async with locks.hold("s"):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(turn("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(turn("second"))
    await asyncio.sleep(0.01)
    assert len(locks) == 1 and order == ["first"]  # held and awaited: kept
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"] and len(locks) == 0


async def test_many_users_leave_no_lock_behind(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        await asyncio.gather(*(service.chat(req("hi", user=f"u{i}")) for i in range(50)))
        assert len(service._scope_locks) == 0


async def test_request_timeout_counts_from_arrival(echo_settings: Settings) -> None:
    """Waiting for the same user's earlier messages is part of the deadline."""
    echo_settings.worker.request_timeout_seconds = 1.0
    async with await ChatService.open(echo_settings, engine=SlowEcho(0.6)) as service:
        started = time.monotonic()
        replies = await asyncio.gather(*(service.chat(req(f"m{i}")) for i in range(5)))
        assert time.monotonic() - started < 1.8
        assert replies[0].status == "ok"
        assert {r.status for r in replies[2:]} == {"busy"}


async def test_busy_reply_is_immediate_when_no_place_is_left(echo_settings: Settings) -> None:
    echo_settings.worker.queue_size = 1
    echo_settings.worker.max_batch = 1
    echo_settings.worker.batch_window_ms = 0
    async with await ChatService.open(echo_settings, engine=SlowEcho(2.0)) as service:
        first = asyncio.create_task(service.chat(req("one", user="a")))
        await asyncio.sleep(0.1)  # in the engine
        second = asyncio.create_task(service.chat(req("two", user="b")))
        await asyncio.sleep(0.1)  # in the queue
        started = time.monotonic()
        third = await service.chat(req("three", user="c"))
        assert third.status == "busy" and time.monotonic() - started < 0.2
        assert (await first).status == "ok" and (await second).status == "ok"
        assert await service.memory.history(third.scope) == []


async def test_a_message_of_zero_width_characters_is_an_empty_one(
    echo_service: ChatService,
) -> None:
    """Said to her, it gets the empty-message line, as a blank one does; overheard, it is
    no room line. Neither is stored (every platform and the console meet this here)."""
    invisible = "\u200b\u200c \u200d\u2060\ufeff\u3164"
    blank = await echo_service.chat(req("  "))
    said = await echo_service.chat(req(invisible))
    assert said.status == blank.status and said.text == blank.text == echo_service.lines.empty
    assert await echo_service.history(ScopeRef(platform="test", user_id="u1")) == []
    heard = req(invisible, channel="c1").model_copy(update={"addressed": False})
    assert (await echo_service.chat(heard)).status == "heard"
    assert await echo_service.memory.room.all_lines("test:chan:c1") == []
    # Words with a zero-width character in them are words.
    await echo_service.chat(heard.model_copy(update={"text": "\u200bhi"}))
    assert len(await echo_service.memory.room.all_lines("test:chan:c1")) == 1
    assert (await echo_service.chat(req("\u200bhi"))).text != echo_service.lines.empty


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


async def test_a_missing_adapter_folder_is_one_sentence_before_the_model_loads(
    tiny_settings: Settings, tmp_path: Path
) -> None:
    # The base does not exist either: the adapter's sentence proves nothing was loaded.
    tiny_settings.model.base = str(tmp_path / "no-model")
    tiny_settings.model.adapter = "adapters/gone"
    with pytest.raises(ConfigError) as caught:
        await ChatService.open(tiny_settings)
    assert str(caught.value).startswith('[model] adapter = "adapters/gone":')
    assert f"{tmp_path / 'adapters' / 'gone'} does not exist" in str(caught.value)
    assert not Path(tiny_settings.memory.path).exists()


async def test_the_echo_engine_checks_the_adapter_folder_too(
    echo_settings: Settings, tmp_path: Path, make_version: MakeVersion
) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    echo_settings.model.adapter = str(tmp_path / "half")
    with pytest.raises(ConfigError, match=r"adapter_model\.safetensors: cannot be read"):
        await ChatService.open(echo_settings)

    echo_settings.model.adapter = str(make_version(V1))
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(req("hi"))).status == "ok"


async def test_a_memory_path_that_is_a_folder_is_one_sentence_before_the_model_loads(
    tiny_settings: Settings, tmp_path: Path
) -> None:
    tiny_settings.model.base = str(tmp_path / "no-model")
    tiny_settings.memory.path = str(tmp_path)
    with pytest.raises(ConfigError, match=r"^\[memory\] path .* is a folder; point it at"):
        await ChatService.open(tiny_settings)


async def test_no_conversation_text_is_logged_at_info(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The echo reply repeats the message, which the OOC guard flags: a regeneration.
    text = "我是人工智能 secret-4711"
    caplog.set_level(logging.DEBUG)
    async with await ChatService.open(echo_settings) as service:
        await service.chat(req(text))
        assert service.ooc_regenerations > 0
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert "regenerating an out-of-character reply" in info
    assert not [line for line in info if "4711" in line or "我是人工智能" in line]
    assert "我是人工智能" in caplog.text  # the reason, quoted, only at DEBUG


@pytest.mark.parametrize("ended_by", ["reset", "purge", "atri memory reset"])
async def test_a_reply_being_written_when_its_context_ends_is_not_stored_in_the_next(
    echo_settings: Settings, ended_by: str
) -> None:
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await service.chat(req("my secret is 1234"))
        engine.gate.clear()
        engine.started.clear()
        asking = asyncio.create_task(service.chat(req("what is my secret?")))
        await asyncio.wait_for(engine.started.wait(), 5)  # its prompt holds the secret
        ref = ScopeRef(platform="test", user_id="u1")
        if ended_by == "reset":
            await service.reset(ref)
        elif ended_by == "purge":
            await service.purge(ref)
        else:  # the admin's command, from another process on the same file
            async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as cli:
                await cli.reset(service.scope_for("test", "u1"))
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        assert reply.status == "ok"  # she still answers the message
        # The exchange answered from the ended context does not open the next one.
        assert await service.memory.history(reply.scope) == []
        hello = await service.chat(req("hello"))
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == ["hello", hello.text]


@pytest.mark.parametrize("ended_by", ["reset", "purge", "channel reset", "atri memory reset"])
async def test_a_first_reply_being_written_when_its_conversation_is_reset_is_not_stored(
    echo_settings: Settings, ended_by: str
) -> None:
    """Nothing was stored yet, so no archived message could tell the reply that its
    context had ended: a reset during the first reply of a conversation (from a bot, an
    admin's channel reset or `atri memory` in another process) was undone by it."""
    echo_settings.memory.scope = "user_in_channel"
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        asking = asyncio.create_task(service.chat(req("my secret is 1234", channel="c1")))
        await asyncio.wait_for(engine.started.wait(), 5)
        ref = ScopeRef(platform="test", user_id="u1", channel_id="c1")
        if ended_by == "reset":
            await service.reset(ref)
        elif ended_by == "purge":
            await service.purge(ref)
        elif ended_by == "channel reset":
            await service.reset(ScopeRef(platform="test", channel_id="c1"))
        else:
            async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as cli:
                await cli.reset(service.scope_for("test", "u1", "c1"))
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        assert reply.status == "ok"  # she still answers the message
        assert await service.memory.all_messages(reply.scope) == []
        hello = await service.chat(req("hello", channel="c1"))
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == ["hello", hello.text]


async def test_a_reply_being_written_when_an_earlier_exchange_is_recalled_is_stored(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await service.chat(req("one"))
        await service.chat(req("two").model_copy(update={"request_id": "m2"}))
        engine.gate.clear()
        engine.started.clear()
        asking = asyncio.create_task(service.chat(req("three")))
        await asyncio.wait_for(engine.started.wait(), 5)
        ref = MessageRef(platform="test", user_id="u1", request_id="m2")
        assert await service.forget_message(ref) == 2  # a recall is no reset
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history][::2] == ["one", "three"]


@pytest.mark.parametrize("recalled", ["while answered", "while stored"])
async def test_a_message_recalled_while_it_is_answered_is_not_remembered(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch, recalled: str
) -> None:
    """Deleted on Discord or recalled on QQ before her reply to it was stored: the recall
    found no exchange to archive, and the message stayed in every later prompt."""
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await service.chat(req("one"))
        ref = MessageRef(platform="test", user_id="u1", request_id="m2")
        if recalled == "while stored":  # just before the exchange's transaction
            insert = service.memory._insert

            async def recall_first(params: list[tuple[Any, ...]]) -> Exception | None:
                if any(row[7] == "m2" for row in params):
                    await service.forget_message(ref)
                return await insert(params)

            monkeypatch.setattr(service.memory, "_insert", recall_first)
        engine.gate.clear()
        engine.started.clear()
        said = req("my password is hunter2").model_copy(update={"request_id": "m2"})
        asking = asyncio.create_task(service.chat(said))
        await asyncio.wait_for(engine.started.wait(), 5)
        if recalled == "while answered":
            assert await service.forget_message(ref) == 0  # nothing stored yet
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        assert (reply.status, reply.text) == ("recalled", "")  # the bots post nothing
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history][::2] == ["one"]
        # Archived, as a recall of a stored exchange leaves it.
        stored = await service.memory.all_messages(reply.scope)
        assert [m.archived for m in stored if m.request_id == "m2"] == [True, True]


@pytest.mark.parametrize(
    "recalled", ["before it arrives", "while it waits its turn", "by an unknown author"]
)
async def test_a_message_recalled_before_she_answers_it_is_not_answered(
    echo_settings: Settings, recalled: str
) -> None:
    """Each platform event has its own task, so a recall can reach the worker before the
    message it takes back, or while that message waits for the same person's earlier
    one: it found no exchange to archive, and the message was then answered and stored.
    A delete that does not say whose message it was (Discord's, uncached) counts too."""
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await service.chat(req("one"))
        who = "" if recalled == "by an unknown author" else "u1"
        ref = MessageRef(platform="test", user_id=who, request_id="m2")
        said = req("my password is hunter2").model_copy(update={"request_id": "m2"})
        if recalled != "while it waits its turn":
            assert await service.forget_message(ref) == 0
            reply = await service.chat(said)
        else:
            engine.gate.clear()
            engine.started.clear()
            earlier = asyncio.create_task(service.chat(req("two")))
            await asyncio.wait_for(engine.started.wait(), 5)
            asking = asyncio.create_task(service.chat(said))
            await asyncio.sleep(0.05)  # waiting for "two" to be answered
            assert await service.forget_message(ref) == 0
            engine.gate.set()
            assert (await asyncio.wait_for(earlier, 5)).status == "ok"
            reply = await asyncio.wait_for(asking, 5)
        assert (reply.status, reply.text) == ("recalled", "")  # the bots post nothing
        stored = [m.content for m in await service.memory.all_messages(reply.scope)]
        assert "my password is hunter2" not in stored
        assert (await service.chat(req("three"))).status == "ok"  # only that message


async def test_a_deadline_passing_while_the_exchange_is_written_still_gives_the_reply(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline passed during the (shielded) write: the user was told "busy" while
    the exchange was stored anyway, and her next prompt held a reply nobody saw. What
    she remembers is what the user was told: the write ends and the reply is given."""
    echo_settings.worker.request_timeout_seconds = 0.3
    async with await ChatService.open(echo_settings) as service:
        insert = service.memory._insert

        async def slow_disk(params: list[tuple[Any, ...]]) -> Exception | None:
            await asyncio.sleep(0.6)  # past the deadline
            return await insert(params)

        monkeypatch.setattr(service.memory, "_insert", slow_disk)
        reply = await service.chat(req("remember this"))
        assert reply.status == "ok" and reply.text == EchoEngine.prefix + "remember this"
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == ["remember this", reply.text]
        # The deadline still holds up to the write: nothing answered, nothing stored.
        await service.batcher.stop()
        busy = await service.chat(req("anyone there?"))
        assert busy.status == "busy"
        assert len(await service.memory.all_messages(reply.scope)) == 2


async def import_older_exchange(settings: Settings, scope: str) -> None:
    """`atri memory import` from another process: a backup of an exchange older than any
    in `scope` ("zero", "0")."""
    older = {
        "format": "atri-memory",
        "version": 4,
        "scope": scope,
        "messages": [
            {"role": "user", "user_id": "u1", "content": "zero", "created_at": 1.0},
            {"role": "assistant", "user_id": "", "content": "0", "created_at": 1.0},
        ],
    }
    async with await Memory.open(settings.path(settings.memory.path)) as cli:
        # Restored after a purge too (`--include-purged`): what is tested is the reply.
        await cli.import_export(parse_export(older, "older.json"), include_purged=True)


async def test_a_reply_being_written_when_an_import_moves_its_context_is_stored(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        first = await service.chat(req("one"))
        engine.gate.clear()
        engine.started.clear()
        asking = asyncio.create_task(service.chat(req("two")))
        await asyncio.wait_for(engine.started.wait(), 5)
        # A backup of older exchanges, restored from another process: "one" and her
        # reply move after them, to ids above the one her reply was made from.
        await import_older_exchange(echo_settings, first.scope)
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == ["zero", "0", "one", first.text, "two", reply.text]


@pytest.mark.parametrize("ended_by", ["reset", "purge"])
async def test_a_reply_being_written_when_its_context_ends_and_an_import_lands_is_not_stored(
    echo_settings: Settings, ended_by: str
) -> None:
    """A reset (or purge), then `atri memory import` restoring older exchanges, both while
    one reply is written: the import brings messages said before that reply's memory was
    read, but it does not bring back the context the reset ended."""
    engine = HeldEcho()
    engine.gate.set()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        first = await service.chat(req("my secret is 1234"))
        engine.gate.clear()
        engine.started.clear()
        asking = asyncio.create_task(service.chat(req("what is my secret?")))
        await asyncio.wait_for(engine.started.wait(), 5)  # its prompt holds the secret
        ref = ScopeRef(platform="test", user_id="u1")
        await (service.reset(ref) if ended_by == "reset" else service.purge(ref))
        await import_older_exchange(echo_settings, first.scope)
        engine.gate.set()
        reply = await asyncio.wait_for(asking, 5)
        assert reply.status == "ok"
        history = await service.memory.history(reply.scope)
        assert [m.content for m in history] == ["zero", "0"]
        stored = [m.content for m in await service.memory.all_messages(reply.scope)]
        assert "what is my secret?" not in stored


class FailingToCloseEcho(EchoEngine):
    async def close(self) -> None:
        raise RuntimeError("the engine would not close")


async def test_closing_writes_memory_even_when_a_part_fails_to_stop(
    echo_settings: Settings,
) -> None:
    service = await ChatService.open(echo_settings, engine=FailingToCloseEcho())
    reply = await service.chat(req("remember me"))
    with pytest.raises(RuntimeError, match="would not close"):
        await service.close()
    # The memory after the engine was still closed: its connection is gone, the
    # exchange is on disk for the next start.
    with pytest.raises(ValueError):
        await service.memory.history(reply.scope)
    async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as memory:
        stored = await memory.history(reply.scope)
    assert [m.content for m in stored] == ["remember me", reply.text]


class AlwaysSwitchingEcho(EchoEngine):
    """A reload lands during every batch: the prompt is built for v1, the reply is v2's."""

    @property
    def adapter_version(self) -> str:
        return "v1"

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        out = await super().generate(batch, gen, limits)
        for generation in out:
            generation.adapter_version = "v2"
        return out


async def test_a_reply_kept_after_the_last_adapter_switch_is_said_so(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="model.service")
    async with await ChatService.open(echo_settings, engine=AlwaysSwitchingEcho()) as service:
        reply = await service.chat(req("hello"))
    assert reply.status == "ok"
    said = [r for r in caplog.records if "went live during the batch" in r.getMessage()]
    # Answered once more with the new prompt; the second switch is not "answering again".
    assert [r.levelno for r in said] == [logging.INFO, logging.WARNING]
    assert "answering again" in said[0].getMessage()
    assert "keeps the prompt of v1" in said[1].getMessage()


class ByteLevelEcho(EchoEngine):
    """Echo whose tokens are bytes, as a byte-level BPE model's are: a reply cut at its
    token limit may end inside a character, which decoding turns into U+FFFD."""

    def count_tokens(self, text: str) -> int:
        return len(text.encode())

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        out = []
        for messages, limit in zip(batch, row_limits(limits, len(batch)), strict=True):
            data = (self.prefix + messages[-1]["content"]).encode()
            cap = limit.max_new_tokens
            if 0 < cap < len(data):
                text = data[:cap].decode("utf-8", errors="replace")
                out.append(Generation(text=text, new_tokens=cap, finish_reason="length"))
            else:
                out.append(Generation(text=data.decode(), new_tokens=len(data)))
        return out


async def test_a_reply_cut_inside_a_character_does_not_end_in_a_replacement_mark(
    echo_settings: Settings,
) -> None:
    """The offline model's replies often end in an emoji; cut at max_new_tokens between
    its bytes, the reply ended in "�" in the console, on the platforms and in memory."""
    engine = ByteLevelEcho()
    said = "Thank you! 🙏"
    cut = len((engine.prefix + said).encode()) - 2  # two of the emoji's four bytes
    request = req(said).model_copy(update={"max_new_tokens": cut})
    async with await ChatService.open(echo_settings, engine=engine) as service:
        reply = await service.chat(request)
        assert reply.text == engine.prefix + "Thank you!"
        # Usage (/v1) counts the tokens the model generated, the cap here, not the
        # cleaned text counted again (a cut character re-tokenized as "�" counted more).
        assert reply.completion_tokens == cut
        assert (await service.memory.history(reply.scope))[1].content == reply.text

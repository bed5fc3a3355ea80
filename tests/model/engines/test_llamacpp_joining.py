"""Continuous batching in the llama.cpp engine: a request joins the decode loop that is
running at its next step, instead of waiting for the other replies to end.

On the offline default's own GGUF. `_decode` is watched (not replaced) to know when a
pass is decoding and what each step held."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atri.config import GenerationSettings, Settings
from model.batching import Batcher
from model.character.prompt import ChatMessages
from model.engines.base import RowLimits
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.llamacpp_pass import PREFILL_STEP_TOKENS, SLOT_GROWTH_TOKENS

SYSTEM = "You are ATRI, a cheerful robot girl who lives by the sea. Answer in one sentence."
LONG = "Tell me a long story about the sea."  # greedy: runs to any cap below 48
GEN = GenerationSettings(max_new_tokens=40, do_sample=False, repetition_penalty=1.0)
SHORT = RowLimits(max_new_tokens=6)


def chat(question: str, system: str = SYSTEM) -> ChatMessages:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


class Steps:
    """Records each decode call's entries; `wait(n)` until the n-th call has run."""

    def __init__(self, engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[list[tuple[int, int, int, bool]]] = []
        self._cond = threading.Condition()
        decode = engine._decode

        def watched(entries: list[tuple[int, int, int, bool]]) -> dict[int, Any]:
            out = decode(entries)
            with self._cond:
                self.calls.append(list(entries))
                self._cond.notify_all()
            return out

        monkeypatch.setattr(engine, "_decode", watched)

    async def wait(self, n: int) -> None:
        def reached() -> None:
            with self._cond:
                assert self._cond.wait_for(lambda: len(self.calls) >= n, timeout=60)

        await asyncio.to_thread(reached)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    settings = Settings(root=tmp_path_factory.mktemp("joining"))
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=4)
    yield engine
    engine._free()


def alone(engine: LlamaCppEngine, messages: ChatMessages, limits: RowLimits = SHORT) -> str:
    return engine.generate_sync([messages], GEN, None, 0, [limits])[0].text


async def test_a_request_joins_the_running_pass_and_replies_as_it_would_alone(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_alone = engine.generate_sync([chat(LONG)], GEN)[0]
    assert long_alone.finish_reason == "length"  # it really runs its whole cap
    short_alone = alone(engine, chat("Who are you?"))
    steps = Steps(engine, monkeypatch)
    joined = engine.stats.joined_rows

    long = asyncio.create_task(engine.generate([chat(LONG)], GEN))
    await steps.wait(3)  # the long reply is decoding
    (short,) = await engine.generate([chat("Who are you?")], GEN, [SHORT])
    # Answered while the long reply still decodes: it did not wait for it to end.
    assert not long.done()
    assert short.text == short_alone and short.new_tokens == 6
    (long_reply,) = await long
    assert long_reply.text == long_alone.text
    assert engine.stats.joined_rows == joined + 1
    # One step fed both rows: the joiner's own tokens beside the long reply's next one.
    assert any(len({seq for _, _, seq, _ in call}) == 2 for call in steps.calls)


async def test_rows_started_together_are_answered_each_at_its_own_end(
    engine: LlamaCppEngine,
) -> None:
    short_alone = alone(engine, chat("Who are you?"))
    long_row, short_row = engine.generate_rows(
        [chat(LONG), chat("Who are you?")], GEN, [RowLimits(), SHORT]
    )
    short = await asyncio.wait_for(short_row, 60)
    # The short row's reply is out while the long row of the same call still decodes.
    assert not long_row.done()
    assert short.text == short_alone and short.new_tokens == 6
    assert (await long_row).finish_reason == "length"


async def test_a_stream_of_requests_never_waits_for_the_rows_in_flight_to_end(
    tmp_path: Path,
) -> None:
    """With the KV cache this small, the cells of the short rows that left fill it after
    two of them: they are freed while the long row decodes, not when it ends."""
    settings = Settings(root=tmp_path)
    small = LlamaCppEngine(
        gguf_path(settings), "builtin:smollm2-135m", "", context_window=120, kv_tokens=120
    )
    try:
        questions = ["Who are you?", "What do you like?", "Where do you live?", "Hello!"]
        short_alone = [alone(small, chat(q)) for q in questions]
        long = asyncio.create_task(small.generate([chat(LONG)], GEN))
        replies = []
        for question in questions:
            (reply,) = await small.generate([chat(question)], GEN, [SHORT])
            replies.append(reply.text)
        assert not long.done()  # every short reply came while the long one decoded
        assert small.stats.early_unparks >= 1
        assert replies == short_alone
        assert (await long)[0].finish_reason == "length"
    finally:
        small._free()


async def test_through_the_batcher_a_later_request_is_answered_before_an_earlier_long_one(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's batcher hands the engine new rows while others decode."""
    steps = Steps(engine, monkeypatch)
    batcher = Batcher(engine, GEN, max_batch=4, window_seconds=0.02, queue_size=8)
    batcher.start()
    try:
        long = asyncio.create_task(batcher.submit(chat(LONG)))
        await steps.wait(3)
        short = await batcher.submit(chat("Who are you?"), SHORT)
        assert not long.done() and short.new_tokens == 6
        assert (await long).finish_reason == "length"
    finally:
        await batcher.stop()


async def test_a_long_prompt_joins_in_pieces_that_do_not_hold_the_running_rows(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another system prompt: nothing to copy from the prefix slot, all of it is read.
    other = chat("Who are you?", system="You are a lighthouse keeper. " * 40)
    other_alone = alone(engine, other)
    long_alone = engine.generate_sync([chat(LONG)], GEN)[0].text
    assert len(engine.text.encode(other)) > 3 * PREFILL_STEP_TOKENS
    steps = Steps(engine, monkeypatch)

    long = asyncio.create_task(engine.generate([chat(LONG)], GEN))
    await steps.wait(3)
    first_joined = len(steps.calls)
    (reply,) = await engine.generate([other], GEN, [SHORT])
    assert reply.text == other_alone
    assert (await long)[0].text == long_alone
    # While the long reply decoded, no step read more than its budget of prompt tokens
    # (plus the long reply's own token), so its steps went on at their pace.
    during = steps.calls[first_joined:]
    assert max(len(call) for call in during) <= PREFILL_STEP_TOKENS + 1
    assert sum(len(call) > 2 for call in during) >= 3  # the prompt came in several pieces


def whole_conversation(turns: int) -> ChatMessages:
    """A long history sent at once, as an OpenAI client sends every turn each time."""
    messages = chat("Good morning!")[:1]
    for day in range(turns):
        messages += [
            {"role": "user", "content": f"What did you see by the sea on day {day}?"},
            {"role": "assistant", "content": "Gulls over the harbour, and the tide was low."},
        ]
    return [*messages, {"role": "user", "content": "And today?"}]


async def test_a_long_prompt_alone_is_read_in_pieces_that_let_others_in(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long prompt that starts a pass alone was decoded into the prefix slot in one
    go: a question asked meanwhile waited for all of it (a minute for a 4,000-token
    /v1 history on 2 cores). Now the slot grows by one piece, the row reads the rest a
    piece a step, and the question joins between two pieces."""
    history = whole_conversation(90)
    tokens = len(engine.text.encode(history))
    assert tokens > 4 * SLOT_GROWTH_TOKENS
    short_alone = alone(engine, chat("Who are you?"))
    steps = Steps(engine, monkeypatch)

    long = asyncio.create_task(engine.generate([history], GEN, [SHORT]))
    await steps.wait(1)  # the long prompt is being read
    (short,) = await engine.generate([chat("Who are you?")], GEN, [SHORT])
    assert not long.done()  # answered while the long prompt was still being read
    assert short.text == short_alone
    assert (await long)[0].new_tokens == 6
    assert max(len(call) for call in steps.calls) <= SLOT_GROWTH_TOKENS
    assert sum(len(call) for call in steps.calls) >= tokens - len(engine.text.encode(chat("")))


async def test_a_caller_that_gives_up_on_a_long_prompt_stops_its_reading(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A deadline or a client gone stops a long prompt between two pieces: it is not
    read to its end first (nor, alone, did anything come between before), and the log
    says why such a conversation gets no answer here."""
    history = whole_conversation(150)
    tokens = len(engine.text.encode(history))
    alone(engine, chat("Who are you?"))  # the slot holds the short prompt's start
    steps = Steps(engine, monkeypatch)
    long = asyncio.create_task(engine.generate([history], GEN, [SHORT]))
    await steps.wait(1)  # the long prompt is being read
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
    (reply,) = await engine.generate([chat("Who are you?")], GEN, [SHORT])
    assert reply.new_tokens == 6
    assert sum(len(call) for call in steps.calls) < tokens // 2
    told = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert len(told) == 1 and f"reading its {tokens}-token prompt" in told[0]
    assert "[model] context_window" in told[0]


async def test_a_caller_that_gives_up_stops_its_decoding(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    short_alone = alone(engine, chat("Who are you?"))
    steps = Steps(engine, monkeypatch)
    long = asyncio.create_task(engine.generate([chat(LONG)], GEN))
    await steps.wait(3)
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
    at_cancel = len(steps.calls)
    (reply,) = await engine.generate([chat("Who are you?")], GEN, [SHORT])
    assert reply.text == short_alone
    # The given-up row left at the next step: the short reply's prompt and its steps
    # are all that was decoded after (40 steps of the long one would have been more).
    after = steps.calls[at_cancel:]
    assert len(after) <= 1 + 6 + 1
    assert all(len({seq for _, _, seq, _ in call}) == 1 for call in after[1:])


async def test_a_job_waiting_for_the_thread_goes_before_new_requests(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New requests could keep a pass going for ever; an adapter load or switch (a job
    for the engine thread) must still get its turn: once one waits, the pass takes no
    one new, ends, and the job runs before the requests that came after it."""
    steps = Steps(engine, monkeypatch)
    order: list[str] = []
    long = asyncio.create_task(engine.generate([chat(LONG)], GEN))
    await steps.wait(3)
    job = asyncio.create_task(engine.thread.run(order.append, "job"))
    await asyncio.sleep(0)  # queued behind the running pass
    (short,) = await engine.generate([chat("Who are you?")], GEN, [SHORT])
    order.append("request")
    await asyncio.gather(long, job)
    assert order == ["job", "request"]
    assert short.new_tokens == 6


async def test_a_request_of_another_kind_decodes_beside_the_running_pass(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request sampled otherwise (a memory summary's settings) cannot share a pass: it
    starts its own beside the running one, a step of each in turn, instead of waiting
    for the long reply to end; a later request joins the running pass meanwhile."""
    summary_gen = GenerationSettings(max_new_tokens=8, do_sample=False, repetition_penalty=1.1)
    steps = Steps(engine, monkeypatch)
    order: list[str] = []

    async def ask(name: str, gen: GenerationSettings, limits: list[RowLimits] | None) -> None:
        await engine.generate([chat(f"{name}: who are you?")], gen, limits)
        order.append(name)

    long = asyncio.create_task(ask("long", GEN, None))
    await steps.wait(3)
    summary = asyncio.create_task(ask("summary", summary_gen, None))
    await asyncio.sleep(0)
    await asyncio.gather(ask("later", GEN, [SHORT]), summary, long)
    assert sorted(order[:2]) == ["later", "summary"] and order[2] == "long"


async def test_closing_answers_every_waiting_request(tmp_path: Path) -> None:
    engine = LlamaCppEngine(gguf_path(Settings(root=tmp_path)), "builtin:smollm2-135m", "")
    tasks = [asyncio.create_task(engine.generate([chat(LONG)], GEN)) for _ in range(3)]
    await asyncio.sleep(0)  # in the inbox
    await asyncio.wait_for(engine.close(), timeout=120)
    done, pending = await asyncio.wait(tasks, timeout=5)
    assert not pending  # none left waiting for ever
    for task in done:
        assert task.exception() is None or isinstance(task.exception(), RuntimeError)
    with pytest.raises(RuntimeError, match="closed"):
        await engine.generate([chat("Hi!")], GEN)

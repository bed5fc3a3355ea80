"""The local engine batches continuously (`model/engines/local_steps.py`): a request that
comes while others are being decoded starts at the next step, beside them, and each row
is answered at its own end, with the reply it would get alone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from atri.config import GenerationSettings, Settings
from model.batching import Batcher
from model.engines.base import JoinsRunningBatch, RowLimits
from model.engines.local import LocalEngine
from model.engines.local_steps import Reading, RunningBatch
from tests.model.engines.test_local import chat
from tests.tiny_model import build_tiny_model

QUESTIONS = [
    "hi",
    "what is your favourite food, and why do you like it so much?",
    "do you like the sea?",
    "tell me about the robot who lives by the sea and the boy who found her",
]


async def make_engine(settings: Settings) -> LocalEngine:
    engine = await LocalEngine.load(settings)
    # The random model must not end a reply by itself here: these tests count tokens.
    engine.stop_ids = [-1]
    return engine


@pytest.fixture
async def engine(tiny_settings: Settings, any_tiny_model_dir: Path) -> AsyncIterator[LocalEngine]:
    tiny_settings.model.base = str(any_tiny_model_dir)
    engine = await make_engine(tiny_settings)
    try:
        yield engine
    finally:
        await engine.close()


def paced(engine: LocalEngine, seconds: float = 0.005) -> None:
    """Each forward pass of the engine's model takes `seconds` longer, so that a reply of a
    few hundred tokens is still being decoded when the test's next line runs, even on a
    loaded machine (the tiny model decodes one in well under a second)."""
    model = engine.model
    forward = model.forward

    def slowed(*args: object, **kwargs: object) -> object:
        time.sleep(seconds)
        return forward(*args, **kwargs)

    model.forward = slowed


def with_tokens(gen: GenerationSettings, n: int) -> GenerationSettings:
    return gen.model_copy(update={"max_new_tokens": n})


async def alone(engine: LocalEngine, question: str, gen: GenerationSettings) -> str:
    (reply,) = await engine.generate([chat(question)], gen)
    return reply.text


async def test_the_engine_joins_running_batches(engine: LocalEngine) -> None:
    assert isinstance(engine, JoinsRunningBatch)
    assert engine.steps is not None


async def test_a_row_that_comes_later_joins_and_ends_first(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """A long reply is being decoded; a short request that comes meanwhile starts at the
    next step and is answered long before the long one ends, each with its reply alone."""
    assert engine.steps is not None
    long_gen = with_tokens(tiny_settings.generation, 300)
    short_gen = with_tokens(tiny_settings.generation, 6)
    paced(engine)
    (long_row,) = engine.generate_rows([chat(QUESTIONS[3])], long_gen)
    while engine.steps.steps_done < 5:
        await asyncio.sleep(0.005)
    (short_row,) = engine.generate_rows([chat(QUESTIONS[1])], short_gen)
    short = await asyncio.wait_for(short_row, 60)
    assert not long_row.done()  # the short reply did not wait for it
    assert engine.stats.joined_rows == 1
    long = await asyncio.wait_for(long_row, 120)
    assert (short.new_tokens, long.new_tokens) == (6, 300)
    assert short.text == await alone(engine, QUESTIONS[1], short_gen)
    assert long.text == await alone(engine, QUESTIONS[3], long_gen)


async def test_rows_of_every_length_get_their_replies_alone(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Rows joining in three waves, of prompts longer and shorter than those running
    (left padding on either side), with their own caps: each reply is its reply alone."""
    assert engine.steps is not None
    gen = with_tokens(tiny_settings.generation, 24)
    caps = [24, 9, 17, 3]
    limits = [RowLimits(max_new_tokens=c) for c in caps]
    rows = engine.generate_rows([chat(QUESTIONS[0])], gen, limits[:1])
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)
    rows += engine.generate_rows([chat(q) for q in QUESTIONS[1:3]], gen, limits[1:3])
    while engine.steps.steps_done < 6:
        await asyncio.sleep(0.002)
    rows += engine.generate_rows([chat(QUESTIONS[3])], gen, limits[3:])
    replies = await asyncio.wait_for(asyncio.gather(*rows), 120)
    assert [r.new_tokens for r in replies] == caps
    assert [r.finish_reason for r in replies] == ["length"] * 4
    for question, cap, reply in zip(QUESTIONS, caps, replies, strict=True):
        assert reply.text == await alone(engine, question, with_tokens(gen, cap))


async def test_repetition_penalty_and_sampling_follow_generate(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """The step loop draws as generate() does: the same greedy reply under a repetition
    penalty, and sampling with top_k = 1 is the greedy reply."""
    gen = with_tokens(tiny_settings.generation, 20).model_copy(update={"repetition_penalty": 1.8})
    (stepped,) = await asyncio.gather(*engine.generate_rows([chat(QUESTIONS[2])], gen))
    assert stepped.text == await alone(engine, QUESTIONS[2], gen)
    plain = with_tokens(tiny_settings.generation, 20)
    assert stepped.text != await alone(engine, QUESTIONS[2], plain)  # the penalty mattered
    sampled = plain.model_copy(update={"do_sample": True, "top_k": 1, "temperature": 0.7})
    (drawn,) = await asyncio.gather(*engine.generate_rows([chat(QUESTIONS[2])], sampled))
    assert drawn.text == await alone(engine, QUESTIONS[2], plain)


async def test_a_row_ends_at_its_stop_string(engine: LocalEngine, tiny_settings: Settings) -> None:
    gen = with_tokens(tiny_settings.generation, 16)
    whole = await alone(engine, QUESTIONS[0], gen)
    stop = whole[len(whole) // 2 : len(whole) // 2 + 2]
    assert stop.strip()
    cut, other = await asyncio.gather(
        *engine.generate_rows(
            [chat(QUESTIONS[0]), chat(QUESTIONS[1])], gen, [RowLimits(stop=(stop,)), RowLimits()]
        )
    )
    assert cut.text == whole[: whole.index(stop)]
    assert cut.finish_reason == "stop" and cut.new_tokens < 16
    assert other.new_tokens == 16


async def test_a_cancelled_row_leaves_at_the_next_step(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    assert engine.steps is not None
    gen = with_tokens(tiny_settings.generation, 2000)
    gone, stays = engine.generate_rows(
        [chat(QUESTIONS[3]), chat(QUESTIONS[0])], gen, [RowLimits(), RowLimits(max_new_tokens=60)]
    )
    while engine.steps.steps_done < 3:
        await asyncio.sleep(0.002)
    gone.cancel()
    reply = await asyncio.wait_for(stays, 60)
    assert reply.new_tokens == 60
    while engine.steps.batch.rows:
        await asyncio.sleep(0.01)
    # The cancelled row decoded a few steps, not its 2,000.
    assert engine.stats.generated_tokens < 60 + 200


async def test_a_job_for_the_engine_thread_waits_for_the_running_rows_only(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """An adapter switch (any job of the engine thread) runs between two batches: the
    rows running end first, rows that come meanwhile start after it, under the
    version it made live."""
    assert engine.steps is not None
    gen = with_tokens(tiny_settings.generation, 40)
    running_at_switch: list[int] = []
    (first,) = engine.generate_rows([chat(QUESTIONS[0])], gen)
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)

    def switch() -> None:
        assert engine.steps is not None
        running_at_switch.append(len(engine.steps.batch.rows))
        engine.active_adapter = "v-test"  # as activate_sync names a new version live

    job = asyncio.ensure_future(engine.thread.run(switch))
    while not engine.thread.waiting:
        await asyncio.sleep(0.001)
    (later,) = engine.generate_rows([chat(QUESTIONS[1])], gen)
    await job
    assert running_at_switch == [0]  # the first row had ended, the later one not started
    assert first.done() and (await first).adapter_version == ""
    reply = await asyncio.wait_for(later, 60)
    assert reply.adapter_version == "v-test" and reply.new_tokens == 40
    engine.active_adapter = ""


async def test_through_the_batcher_a_late_request_does_not_wait_for_the_batch(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """As ChatService uses it: a request that comes while a long reply is decoded is
    answered in the time of its own reply."""
    gen = with_tokens(tiny_settings.generation, 400)
    paced(engine)
    batcher = Batcher(engine, gen, max_batch=4, window_seconds=0.01, queue_size=8)
    batcher.start()
    try:
        long_one = asyncio.create_task(batcher.submit(chat(QUESTIONS[3])))
        assert engine.steps is not None
        while engine.steps.steps_done < 5:
            await asyncio.sleep(0.005)
        started = time.monotonic()
        short = await batcher.submit(chat(QUESTIONS[0]), RowLimits(max_new_tokens=4))
        took = time.monotonic() - started
        assert short.new_tokens == 4
        assert not long_one.done()
        long = await asyncio.wait_for(long_one, 120)
        assert long.new_tokens == 400
        assert took < long.new_tokens * 0.5  # never the long reply's whole time
    finally:
        await batcher.stop()


async def test_a_summary_decodes_beside_live_replies_and_holds_none_back(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Session 61: an overdue background job (a memory summary, its own settings) is one
    more row: the reply in flight goes on, a request arriving meanwhile is answered in
    its own time, and the summary's reply is the one it gets alone. Before, it went
    through generate(), which waited for the replies in flight and held every new one
    for the summary's whole length."""
    assert engine.steps is not None
    paced(engine)
    live = with_tokens(tiny_settings.generation, 60)
    summary_gen = with_tokens(tiny_settings.generation, 300).model_copy(
        update={"repetition_penalty": 1.3}
    )
    batcher = Batcher(engine, live, max_batch=4, window_seconds=0.01, queue_size=8)
    batcher.start()
    try:
        first = asyncio.create_task(batcher.submit(chat(QUESTIONS[0])))
        while engine.steps.steps_done < 3:
            await asyncio.sleep(0.005)
        summary = asyncio.create_task(batcher.submit_low(chat(QUESTIONS[3]), summary_gen, True))
        deadline = time.monotonic() + 30
        while len(engine.steps.batch.rows) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert len(engine.steps.batch.rows) == 2, "the summary did not join the reply"
        assert not first.done()
        late = await asyncio.wait_for(
            batcher.submit(chat(QUESTIONS[2]), RowLimits(max_new_tokens=4)), 60
        )
        assert late.new_tokens == 4 and not summary.done()
        assert (await asyncio.wait_for(first, 60)).new_tokens == 60
        written = await asyncio.wait_for(summary, 120)
        assert written.new_tokens == 300
    finally:
        await batcher.stop()
    assert written.text == await alone(engine, QUESTIONS[3], summary_gen)


def test_columns_no_row_needs_are_cut_as_rows_leave() -> None:
    """Rows of 3 and 7 states: joined, the shorter is padded on the left; once the
    longer leaves, the cache is the shorter's own width again."""
    import torch
    from transformers import LlamaConfig

    config = LlamaConfig(
        num_hidden_layers=1, num_key_value_heads=1, num_attention_heads=1, hidden_size=4
    )
    batch = RunningBatch("past_key_values", config)

    def states(n: int, fill: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.full((1, 1, n, 2), fill), torch.full((1, 1, n, 2), fill))]

    rows = [object(), object()]
    batch.join([rows[0]], states(7, 1.0), torch.ones((1, 7), dtype=torch.long), torch.tensor([5]))  # type: ignore[list-item]
    batch.join([rows[1]], states(3, 2.0), torch.ones((1, 3), dtype=torch.long), torch.tensor([6]))  # type: ignore[list-item]
    assert batch.mask.tolist() == [[1] * 7, [0] * 4 + [1] * 3]
    keys = batch.cache.layers[0].keys
    assert keys.shape == (2, 1, 7, 2)
    assert keys[1, 0, :4].abs().sum() == 0 and bool((keys[1, 0, 4:] == 2.0).all())
    assert batch.positions.tolist() == [7, 3]
    batch.keep([1])
    assert batch.mask.tolist() == [[1, 1, 1]]
    assert batch.cache.layers[0].keys.shape == (1, 1, 3, 2)
    assert batch.positions.tolist() == [3] and batch.last.tolist() == [6]


def test_a_leaving_row_s_slot_takes_the_last_row_and_a_new_row_the_free_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Session 61: three rows; the first leaves and the last moves into its slot (one
    row copied); a row joins into the freed slot; a wider one joins into a spare slot
    using the room on the left: neither lays the cache out afresh, and every row keeps
    its own states."""
    import torch
    from transformers import LlamaConfig

    from model.engines import local_steps

    monkeypatch.setattr(local_steps, "ROWS_PER_SPARE", 1)  # a spare slot per row

    config = LlamaConfig(
        num_hidden_layers=1, num_key_value_heads=1, num_attention_heads=1, hidden_size=4
    )
    batch = RunningBatch("past_key_values", config)

    def states(n: int, fill: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.full((1, 1, n, 2), fill), torch.full((1, 1, n, 2), -fill))]

    def ones(n: int) -> torch.Tensor:
        return torch.ones((1, n), dtype=torch.long)

    rows = [object() for _ in range(5)]
    for i, width in enumerate([5, 4, 3]):
        batch.join([rows[i]], states(width, i + 1.0), ones(width), torch.tensor([i]))  # type: ignore[list-item]
    assert batch.laid_out == 2  # the third row found no free slot: 6 slots since
    store = batch.cache.layers[0]._keys
    batch.keep([1, 2])  # the first row leaves: the last takes its slot
    assert batch.rows == [rows[2], rows[1]]
    assert batch.mask.tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]  # the fifth column cut
    keys = batch.cache.layers[0].keys
    assert keys.shape == (2, 1, 4, 2)
    assert bool((keys[0, 0, 1:] == 3.0).all()) and bool((keys[1, 0] == 2.0).all())
    assert batch.last.tolist() == [2, 1] and batch.positions.tolist() == [3, 4]
    batch.join([rows[3]], states(2, 4.0), ones(2), torch.tensor([3]))  # type: ignore[list-item]
    batch.join([rows[4]], states(20, 5.0), ones(20), torch.tensor([4]))  # type: ignore[list-item]
    assert batch.laid_out == 2 and batch.cache.layers[0]._keys is store
    keys, values = batch.cache.layers[0].keys, batch.cache.layers[0].values
    assert keys.shape == (4, 1, 20, 2) and batch.mask.shape == (4, 20)
    for slot, (fill, width) in enumerate([(3.0, 3), (2.0, 4), (4.0, 2), (5.0, 20)]):
        assert batch.mask[slot].tolist() == [0] * (20 - width) + [1] * width
        assert bool((keys[slot, 0, 20 - width :] == fill).all())
        assert bool((values[slot, 0, 20 - width :] == -fill).all())
        assert keys[slot, 0, : 20 - width].abs().sum() == 0  # masked columns hold zeros
    # One more than the free slots hold: laid out afresh, the states the same.
    more = [object() for _ in range(3)]
    batch.join(
        more,
        [(torch.full((3, 1, 3, 2), 6.0), torch.full((3, 1, 3, 2), -6.0))],
        torch.ones((3, 3), dtype=torch.long),
        torch.tensor([5, 6, 7]),
    )  # type: ignore[arg-type]
    assert batch.laid_out == 3 and batch.cache.layers[0].keys.shape == (7, 1, 20, 2)
    assert bool((batch.cache.layers[0].keys[1, 0, 16:] == 2.0).all())


async def test_a_row_joining_after_one_left_takes_its_slot(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Session 61: a short row ends, a new row joins the long one into the freed slot,
    without the running cache laid out again; both replies are their replies alone."""
    assert engine.steps is not None
    paced(engine)  # the long row still decodes when the late one comes
    gen = with_tokens(tiny_settings.generation, 120)
    limits = [RowLimits(max_new_tokens=2), RowLimits(max_new_tokens=120)]
    first = engine.generate_rows([chat(QUESTIONS[0]), chat(QUESTIONS[1])], gen, limits)
    await asyncio.wait_for(first[0], 60)
    laid_out = engine.steps.batch.laid_out
    late = engine.generate_rows([chat(QUESTIONS[2])], with_tokens(gen, 8))
    long, short = await asyncio.wait_for(asyncio.gather(first[1], *late), 120)
    assert engine.steps.batch.laid_out == laid_out
    assert long.text == await alone(engine, QUESTIONS[1], gen)
    assert short.text == await alone(engine, QUESTIONS[2], with_tokens(gen, 8))


async def test_a_sliding_window_model_runs_a_batch_at_a_time(
    tiny_settings: Settings, tmp_path: Path
) -> None:
    tiny_settings.model.base = str(build_tiny_model(tmp_path / "tiny-mistral", sliding_window=64))
    engine = await make_engine(tiny_settings)
    try:
        assert engine.steps is None
        gen = with_tokens(tiny_settings.generation, 5)
        replies = await asyncio.gather(*engine.generate_rows([chat(q) for q in QUESTIONS[:2]], gen))
        assert [r.new_tokens for r in replies] == [5, 5]
        assert replies[1].text == await alone(engine, QUESTIONS[1], gen)
    finally:
        await engine.close()


async def test_a_model_whose_forward_refuses_the_loop_falls_back_to_generate(
    engine: LocalEngine,
    tiny_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A model whose forward refuses the loop's inputs (remote code of its own, say): the
    rows are answered by generate() all the same, and the loop is off from then on."""

    def refuses(*args: object, **kwargs: object) -> None:
        raise TypeError("forward() got an unexpected keyword argument 'position_ids'")

    monkeypatch.setattr(Reading, "read", refuses)
    gen = with_tokens(tiny_settings.generation, 7)
    with caplog.at_level(logging.WARNING):
        replies = await asyncio.wait_for(
            asyncio.gather(*engine.generate_rows([chat(q) for q in QUESTIONS[:2]], gen)), 60
        )
    assert engine.steps is None
    assert "continuous batching turned off: TypeError" in caplog.text
    assert [r.new_tokens for r in replies] == [7, 7]
    assert replies[0].text == await alone(engine, QUESTIONS[0], gen)


async def test_a_long_prompt_is_read_a_piece_a_step_while_rows_decode(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a reply is decoded, a joining prompt is read at most READ_STEP_TOKENS a
    step, the running reply stepping between the pieces; the joined reply is its reply
    alone all the same."""
    from model.engines import local_steps

    assert engine.steps is not None
    monkeypatch.setattr(local_steps, "READ_STEP_TOKENS", 8)
    reads: list[int] = []
    read = local_steps.Reading.read

    def counted(self: local_steps.Reading, *args: object) -> object:
        reads.append(engine.steps.steps_done if engine.steps else -1)
        return read(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_steps.Reading, "read", counted)
    gen = with_tokens(tiny_settings.generation, 5000)
    (running,) = engine.generate_rows([chat(QUESTIONS[0])], gen)
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)
    reads.clear()
    question = QUESTIONS[3] * 3
    short = with_tokens(tiny_settings.generation, 5)
    (joined,) = engine.generate_rows([chat(question)], short)
    reply = await asyncio.wait_for(joined, 60)
    assert len(reads) > 5  # in pieces ...
    assert reads == sorted(set(reads))  # ... each at its own step of the running row
    assert not running.done()
    running.cancel()
    assert reply.text == await alone(engine, question, short)


async def test_without_the_loop_rows_that_come_meanwhile_make_one_next_batch(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model the step loop cannot serve: rows given while a generate() batch runs wait
    for it, then run together as the next batch, not one batch each."""
    engine.steps = None
    sizes: list[int] = []
    generate_batch = engine._generate_batch

    def recorded(batch: list[object], *args: object) -> object:
        sizes.append(len(batch))
        return generate_batch(batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_generate_batch", recorded)
    paced(engine)
    gen = with_tokens(tiny_settings.generation, 300)
    (first,) = engine.generate_rows([chat(QUESTIONS[0])], gen)
    while not sizes:
        await asyncio.sleep(0.002)
    short = with_tokens(tiny_settings.generation, 4)
    later = [engine.generate_rows([chat(q)], short)[0] for q in QUESTIONS[1:]]
    replies = await asyncio.wait_for(asyncio.gather(first, *later), 120)
    assert sizes == [1, 3]
    assert [r.new_tokens for r in replies] == [300, 4, 4, 4]


async def test_a_row_whose_caller_gave_up_ends_answered_not_left_waiting(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """`RowLimits.given_up` (a deadline passed) ends a row at the next step, and its
    future is still answered (with what it had), as is one given up before it started."""
    assert engine.steps is not None
    gen = with_tokens(tiny_settings.generation, 3000)
    left = False
    (row,) = engine.generate_rows([chat(QUESTIONS[0])], gen, [RowLimits(given_up=lambda: left)])
    while engine.steps.steps_done < 3:
        await asyncio.sleep(0.002)
    left = True
    reply = await asyncio.wait_for(row, 30)
    assert 0 < reply.new_tokens < 3000
    (never,) = engine.generate_rows([chat(QUESTIONS[1])], gen, [RowLimits(given_up=lambda: True)])
    assert (await asyncio.wait_for(never, 30)).new_tokens <= 1


async def test_a_switch_lets_rows_in_flight_finish_with_their_version(
    tiny_settings: Settings, tiny_model_dir: Path
) -> None:
    """A new version goes live while a reply is decoded: that reply finishes with the
    version it began with (peft's mixed adapter batches), a request after the switch
    starts at once beside it with the new one, and the old version is unloaded only once
    its last row ended. Each reply is the one its version gives alone."""
    from tests.model.adapters.make_versions import base_config_hash, write_version

    adapters = tiny_settings.path(tiny_settings.model.adapters_dir)
    folders = {
        name: write_version(
            adapters,
            name,
            tiny_model_dir,
            base_model=tiny_settings.model.base,
            config_hash=base_config_hash(tiny_model_dir),
            seed=seed,
            scale=0.5,
        )
        for seed, name in enumerate(("v1", "v2"), start=1)
    }
    engine = await make_engine(tiny_settings)
    try:
        assert engine.steps is not None
        for name, folder in folders.items():
            await engine.load_adapter(folder, name)
        await engine.activate("v1")
        paced(engine)
        long_gen = with_tokens(tiny_settings.generation, 400)
        short_gen = with_tokens(tiny_settings.generation, 6)
        (old_row,) = engine.generate_rows([chat(QUESTIONS[3])], long_gen)
        while engine.steps.steps_done < 3:
            await asyncio.sleep(0.002)
        await engine.activate("v2")
        assert not old_row.done()  # the switch did not wait for it
        (new_row,) = engine.generate_rows([chat(QUESTIONS[1])], short_gen)
        unloading = asyncio.ensure_future(engine.unload_adapter("v1"))
        new = await asyncio.wait_for(new_row, 60)
        assert not old_row.done()  # the new reply did not wait for it either
        assert not unloading.done()  # v1 still decodes
        old = await asyncio.wait_for(old_row, 120)
        await asyncio.wait_for(unloading, 60)
        assert engine.stats.joined_rows == 1
        assert (old.adapter_version, new.adapter_version) == ("v1", "v2")
        assert "v1" not in engine.model.peft_config
        assert new.text == await alone(engine, QUESTIONS[1], short_gen)
        await engine.load_adapter(folders["v1"], "v1")
        await engine.activate("v1")
        assert old.text == await alone(engine, QUESTIONS[3], long_gen)
        v2_reply = new.text
        assert await alone(engine, QUESTIONS[1], short_gen) != v2_reply  # versions differ
    finally:
        await engine.close()


async def test_a_joining_row_reads_only_what_the_prefix_cache_lacks(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared system prompt is in the prefix cache once; a row joining later while
    others decode (its prompt read a piece a step) computes only its own tokens, not the
    system prompt again a piece at a time."""
    from model.engines import local_steps

    assert engine.steps is not None
    monkeypatch.setattr(local_steps, "READ_STEP_TOKENS", 8)
    system = "You are ATRI, a robot girl who lives by the sea. " * 6

    def long_chat(question: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]

    system_tokens = engine.count_tokens(system)
    assert system_tokens > 40
    gen = with_tokens(tiny_settings.generation, 3000)
    (running,) = engine.generate_rows([long_chat(QUESTIONS[0])], gen)  # type: ignore[list-item]
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)
    computed = engine.prefix_cache.computed_tokens
    short = with_tokens(tiny_settings.generation, 3)
    (joined,) = engine.generate_rows([long_chat(QUESTIONS[2])], short)  # type: ignore[list-item]
    await asyncio.wait_for(joined, 60)
    running.cancel()
    assert engine.prefix_cache.computed_tokens - computed < system_tokens // 2

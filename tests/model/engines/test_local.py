"""The local engine's per-row limits: rows of one batch stop at their own cap or stop
string, and each gets the reply it would get alone under its limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from atri.config import Settings
from model.character.prompt import ChatMessages
from model.engines.base import RowLimits
from model.engines.local import LocalEngine, window_groups

SYSTEM = "You are ATRI, a robot girl who lives by the sea."
QUESTIONS = ["hi", "what is your favourite food", "do you like the sea?"]


def chat(text: str) -> ChatMessages:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


@pytest.fixture
async def engine(tiny_settings: Settings) -> AsyncIterator[LocalEngine]:
    tiny_settings.generation.max_new_tokens = 12
    engine = await LocalEngine.load(tiny_settings)
    # The random model must not end a reply by itself here: these tests count tokens.
    engine.stop_ids = [-1]
    try:
        yield engine
    finally:
        await engine.close()


async def test_rows_of_one_batch_keep_their_own_caps(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    gen = tiny_settings.generation
    caps = [3, 7, 0]  # 0: the setting's own 12
    batched = await engine.generate(
        [chat(q) for q in QUESTIONS], gen, [RowLimits(max_new_tokens=c) for c in caps]
    )
    assert [g.new_tokens for g in batched] == [3, 7, 12]
    assert [g.finish_reason for g in batched] == ["length", "length", "length"]
    for question, cap, got in zip(QUESTIONS, caps, batched, strict=True):
        alone_gen = gen.model_copy(update={"max_new_tokens": cap or gen.max_new_tokens})
        (alone,) = await engine.generate([chat(question)], alone_gen)
        assert got.text == alone.text
    # A cap above the setting does not raise it.
    (roomy,) = await engine.generate([chat("hi")], gen, [RowLimits(max_new_tokens=50)])
    assert roomy.new_tokens == 12


async def test_a_row_stops_at_its_stop_string_while_the_others_go_on(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    gen = tiny_settings.generation
    whole = [g.text for g in await engine.generate([chat(q) for q in QUESTIONS[:2]], gen)]
    # A piece from the middle of the first reply ends it there.
    text = whole[0]
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip()
    cut, other = await engine.generate(
        [chat(q) for q in QUESTIONS[:2]], gen, [RowLimits(stop=(stop,)), RowLimits()]
    )
    assert cut.text == text[: text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.new_tokens < 12  # it stopped generating there, not only cut the text
    assert other.text == whole[1] and other.new_tokens == 12


def test_window_groups_keep_each_generate_inside_the_window() -> None:
    # Fits whole: one group, in the batch's order.
    assert window_groups([10, 5, 9], [2, 2, 2], 14) == [[0, 1, 2]]
    # The short row's large cap would run the long rows past the window: apart.
    assert window_groups([10, 5, 9], [2, 8, 2], 14) == [[0, 2], [1]]
    # A row too long even alone still runs, alone.
    assert window_groups([20, 5], [4, 4], 14) == [[0], [1]]


async def test_a_batch_that_would_run_past_the_window_is_split_and_answers_as_alone(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long prompt fitted to its small cap and a short one with the full cap: padded
    to the long one and run for the large cap, one generate() went past the window."""
    gen = tiny_settings.generation  # max_new_tokens 12
    long_chat = chat("tell me everything about the sea, the town and the lab " * 3)
    short_chat = chat("hi")
    long_len, short_len = (len(r) for r in engine._encode([long_chat, short_chat]))
    engine.context_window = long_len + 3  # the long row fits with a cap of 3, not of 12
    assert short_len + 12 <= engine.context_window < long_len + 12
    alone = [
        (await engine.generate([c], gen, [RowLimits(max_new_tokens=cap)]))[0]
        for c, cap in ((long_chat, 3), (short_chat, 0))
    ]
    ran: list[tuple[int, int]] = []  # (padded prompt length, new tokens) per generate()
    generate = engine.model.generate

    def recording(**kwargs):  # type: ignore[no-untyped-def]
        out = generate(**kwargs)
        ran.append((kwargs["input_ids"].shape[1], kwargs["max_new_tokens"]))
        assert out.shape[1] <= engine.context_window
        return out

    monkeypatch.setattr(engine.model, "generate", recording)
    calls = engine.stats.generate_calls
    together = await engine.generate(
        [long_chat, short_chat], gen, [RowLimits(max_new_tokens=3), RowLimits()]
    )
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.new_tokens for g in together] == [3, 12]
    assert ran and all(width + new <= engine.context_window for width, new in ran)
    assert engine.stats.generate_calls == calls + 1  # one batch, as the batcher gave it
    assert list(engine.stats.batch_sizes)[-1] == 2
    # A prompt alone too long for its cap gets what the window leaves, never more.
    (cut,) = await engine.generate([long_chat], gen)
    assert (cut.new_tokens, cut.finish_reason) == (3, "length")
    assert ran[-1] == (long_len, 3)

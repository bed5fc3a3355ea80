"""The local engine's per-row limits: rows of one batch stop at their own cap or stop
string, and each gets the reply it would get alone under its limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from atri.config import Settings
from model.character.prompt import ChatMessages
from model.engines.base import RowLimits
from model.engines.local import LocalEngine

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

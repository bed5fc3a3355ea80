"""The prefix cache: replies are the same with and without it, and it really is reused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.character.persona import load_persona
from model.character.prompt import ChatMessages
from model.engines.local import LocalEngine
from model.engines.prefix_cache import PrefixCache, pad_after_prefix, shared_prefix_length
from tests.model.adapters.make_versions import base_config_hash, write_version
from tests.tiny_model import build_tiny_model

SYSTEM = load_persona().system_prompt()
MESSAGES = [
    "hi",
    "do you remember the town under the water and the summer we met there?",
    "what is your favourite food",
    "ok",
]


def chat(text: str, history: ChatMessages | None = None) -> ChatMessages:
    return [
        {"role": "system", "content": SYSTEM},
        *(history or []),
        {"role": "user", "content": text},
    ]


def test_shared_prefix_leaves_every_row_a_token_of_its_own() -> None:
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix_length([[1, 2, 3]]) == 2
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix_length([[7, 1], [8, 1]]) == 0


def test_padding_goes_between_the_prefix_and_each_rows_own_tokens() -> None:
    ids, mask = pad_after_prefix([[1, 2, 3, 4], [1, 2, 5]], 2, 0)
    assert ids == [[1, 2, 3, 4], [1, 2, 0, 5]]
    assert mask == [[1, 1, 1, 1], [1, 1, 0, 1]]
    # No shared prefix: plain left padding.
    assert pad_after_prefix([[1, 2], [3]], 0, 0) == ([[1, 2], [0, 3]], [[1, 1], [0, 1]])


async def open_engine(settings: Settings, prefix_cache: bool) -> LocalEngine:
    settings = settings.model_copy(deep=True)
    settings.model.prefix_cache = prefix_cache
    return await LocalEngine.load(settings)


async def test_cached_prefix_gives_the_replies_of_a_full_prompt(
    tiny_settings: Settings, any_tiny_model_dir: Path
) -> None:
    tiny_settings.model.base = str(any_tiny_model_dir)
    gen = tiny_settings.generation
    gen.max_new_tokens = 12
    batch = [chat(m) for m in MESSAGES]
    follow_up = chat(
        "and then?", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    )

    plain = await open_engine(tiny_settings, prefix_cache=False)
    expected_batch = [g.text for g in await plain.generate(batch, gen)]
    expected_alone = [(await plain.generate([b], gen))[0].text for b in batch]
    expected_follow = (await plain.generate([follow_up], gen))[0].text
    assert plain.stats.prefix_reused_tokens == 0
    await plain.close()

    cached = await open_engine(tiny_settings, prefix_cache=True)
    assert [g.text for g in await cached.generate(batch, gen)] == expected_batch
    first_reuse = cached.stats.prefix_reused_tokens
    assert [(await cached.generate([b], gen))[0].text for b in batch] == expected_alone
    assert (await cached.generate([follow_up], gen))[0].text == expected_follow
    assert cached.prefix_cache.enabled
    # The first batch computed the system prompt; every later request reused it.
    assert first_reuse == 0
    system_tokens = cached.count_tokens(SYSTEM)
    assert cached.stats.prefix_reused_tokens >= (len(batch) + 1) * system_tokens
    assert cached.prefix_cache.computed_tokens < 2 * system_tokens
    await cached.close()


async def test_each_adapter_keeps_states_of_its_own_weights(
    tiny_settings: Settings, any_tiny_model_dir: Path
) -> None:
    tiny_settings.model.base = str(any_tiny_model_dir)
    adapters = tiny_settings.path(tiny_settings.model.adapters_dir)
    version = write_version(
        adapters,
        "v1",
        any_tiny_model_dir,
        base_model=tiny_settings.model.base,
        config_hash=base_config_hash(any_tiny_model_dir),
        scale=0.5,
    )
    gen = tiny_settings.generation
    batch = [chat(m) for m in MESSAGES[:2]]

    expected: dict[bool, list[str]] = {}
    for prefix_cache in (False, True):
        engine = await open_engine(tiny_settings, prefix_cache)
        base = [g.text for g in await engine.generate(batch, gen)]
        await engine.load_adapter(version, "v1")
        # The smoke test, as a reload runs it, computes v1's states beside the live ones.
        await engine.smoke_test("v1", chat("smoke"), 4)
        computed = engine.prefix_cache.computed_tokens
        await engine.activate("v1")
        adapted = [g.text for g in await engine.generate(batch, gen)]
        if prefix_cache:
            assert engine.prefix_cache.computed_tokens - computed < 10, (
                "going live recomputed the system prompt"
            )
        await engine.activate("")
        again = [g.text for g in await engine.generate(batch, gen)]
        assert again == base
        await engine.unload_adapter("v1")
        assert set(engine.prefix_cache.entries) <= {""}
        expected[prefix_cache] = base + adapted
        await engine.close()
    assert expected[True] == expected[False]
    assert expected[False][:2] != expected[False][2:], "the adapter must change the replies"


async def test_a_failing_prefix_cache_turns_itself_off_and_the_reply_still_comes(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("this cache class cannot be cropped")

    batch = [chat(m) for m in MESSAGES]
    plain = await open_engine(tiny_settings, prefix_cache=False)
    expected = [g.text for g in await plain.generate(batch, tiny_settings.generation)]
    await plain.close()

    engine = await open_engine(tiny_settings, prefix_cache=True)
    monkeypatch.setattr(PrefixCache, "_extend", broken)
    replies = await engine.generate(batch, tiny_settings.generation)
    assert [r.text for r in replies] == expected
    assert not engine.prefix_cache.enabled
    assert (
        "prefix cache turned off: RuntimeError: this cache class cannot be cropped" in caplog.text
    )
    await engine.close()


async def test_a_generate_that_refuses_the_cache_is_retried_without_it(
    tiny_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    batch = [chat(m) for m in MESSAGES]
    plain = await open_engine(tiny_settings, prefix_cache=False)
    expected = [g.text for g in await plain.generate(batch, tiny_settings.generation)]
    await plain.close()

    engine = await open_engine(tiny_settings, prefix_cache=True)
    # Models such as Gemma name their own cache class, and generate then refuses ours.
    engine.model.generation_config.cache_implementation = "dynamic"
    assert [g.text for g in await engine.generate(batch, tiny_settings.generation)] == expected
    assert not engine.prefix_cache.enabled
    assert "generate refused it (ValueError" in caplog.text
    await engine.close()


async def test_a_sliding_window_model_generates_without_the_cache(
    tiny_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sliding-window layer cannot be cut back to a shorter prefix: such a model
    turns the cache off when the engine starts (its config says so) and answers as
    without it."""
    folder = build_tiny_model(tmp_path / "tiny-mistral", sliding_window=64)
    tiny_settings.model.base = str(folder)

    batch = [chat(m) for m in MESSAGES]
    plain = await open_engine(tiny_settings, prefix_cache=False)
    expected = [g.text for g in await plain.generate(batch, tiny_settings.generation)]
    await plain.close()

    with caplog.at_level(logging.INFO):
        engine = await open_engine(tiny_settings, prefix_cache=True)
    assert not engine.prefix_cache.enabled
    assert [g.text for g in await engine.generate(batch, tiny_settings.generation)] == expected
    assert "sliding-window or linear-attention layers" in caplog.text
    await engine.close()


async def test_the_prefix_warm_up_keeps_only_the_last_logits(tiny_settings: Settings) -> None:
    engine = await open_engine(tiny_settings, prefix_cache=True)
    assert engine.prefix_cache.warm_up_kwargs == {"logits_to_keep": 1}
    shapes: list[tuple[int, int]] = []

    def record(_module: object, args: object, kwargs: dict[str, object], output: object) -> None:
        ids = kwargs.get("input_ids")
        logits = getattr(output, "logits", None)
        if ids is not None and logits is not None:
            shapes.append((ids.shape[1], logits.shape[1]))  # type: ignore[attr-defined]

    base = (
        engine.model.get_base_model() if hasattr(engine.model, "get_base_model") else engine.model
    )
    handle = base.register_forward_hook(record, with_kwargs=True)
    try:
        await engine.generate([chat("hi")], tiny_settings.generation)
    finally:
        handle.remove()
        await engine.close()
    # The warm-up pass over the system prompt: many tokens in, one position of logits out.
    assert shapes[0][0] >= engine.count_tokens(SYSTEM) - 5
    assert shapes[0][1] == 1

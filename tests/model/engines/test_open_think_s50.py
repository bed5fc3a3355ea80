"""Session 50: a reasoning model whose chat template opens `<think>` at the end of the
generation prompt (DeepSeek-R1 distills, QwQ, Qwen3-Thinking-2507) starts its reply inside
the block. A reply cut before `</think>` is all reasoning with no tag: the engines that
render the prompt know it opened the block, and make such a reply empty (logged as
reasoning) and keep what follows `</think>` of one that closed it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages, opens_think, reply_after_open_think
from model.engines.base import Generation
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.local import LocalEngine
from model.engines.openai import OpenAIEngine, template_opens_think
from model.engines.vllm_replica import Replica
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.chat_templates import RealTemplate, template_tokenizer
from tests.tiny_model import CHATML_TEMPLATE, build_tiny_model

# ChatML with the generation prompt of QwQ and Qwen3-Thinking-2507: `<think>\n` opened.
OPEN_THINK = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)
# Qwen3's with thinking off: the block is opened and closed, the reply follows it.
CLOSED_THINK = OPEN_THINK.replace("<think>\n{% endif %}", "<think>\n\n</think>\n\n{% endif %}")
CHAT: ChatMessages = [
    {"role": "system", "content": "You are ATRI."},
    {"role": "user", "content": "hi"},
]
REASONING = "The user greets me. As ATRI I should be cheerful."
REPLY = "Hello there!"


def test_a_prompt_opens_think_only_where_it_ends_inside_the_block() -> None:
    assert opens_think("<|im_start|>assistant\n<think>\n")
    assert opens_think("<｜Assistant｜><think>\n")
    assert not opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert not opens_think("<|im_start|>assistant\n")
    # A person's message that ends in the tag is followed by its turn's end.
    assert not opens_think("<|im_start|>user\nhi <think><|im_end|>\n<|im_start|>assistant\n")
    assert reply_after_open_think(f"{REASONING}\n</think>\n\n{REPLY}") == f"\n\n{REPLY}"
    assert reply_after_open_think(REASONING) is None


def reasoning_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        "spent the whole reply budget" in r.getMessage() and "reasoning" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


# The local engine (transformers).


def local_settings(tmp_path: Path, settings: Settings, template: str, max_new: int) -> Settings:
    tokenizer = template_tokenizer(RealTemplate(template))
    settings.model.base = str(build_tiny_model(tmp_path / "model", tokenizer=tokenizer))
    settings.generation.max_new_tokens = max_new
    settings.generation.do_sample = False
    settings.ooc.language = "any"
    return settings


def script_local(engine: LocalEngine, written: str, max_new: int) -> None:
    """Make the tiny model write `written`, cut at `max_new` tokens (only the budget ends
    it)."""
    import torch

    engine.stop_ids = [-1]
    script = engine.tokenizer.encode(written, add_special_tokens=False)[:max_new]

    def scripted(**kwargs: Any) -> Any:
        ids = kwargs["input_ids"]
        new = torch.tensor([script] * ids.shape[0], dtype=ids.dtype)
        return torch.cat([ids, new], dim=1)

    engine.model.generate = scripted


async def local_reply(
    tmp_path: Path, settings: Settings, template: str, written: str, max_new: int
) -> Generation:
    """The local engine's reply under `template`, the model made to write `written`."""
    engine = await LocalEngine.load(local_settings(tmp_path, settings, template, max_new))
    try:
        script_local(engine, written, max_new)
        (generation,) = await engine.generate([CHAT], settings.generation)
        return generation
    finally:
        await engine.close()


async def test_a_reply_all_reasoning_reaches_neither_the_user_nor_memory(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with await ChatService.open(local_settings(tmp_path, settings, OPEN_THINK, 6)) as service:
        assert isinstance(service.engine, LocalEngine)
        script_local(service.engine, REASONING, 6)
        reply = await service.chat(ChatRequest(platform="test", user_id="u", text="hi"))
        stored = await service.memory.history(reply.scope)
    assert reply.text == "……"
    assert REASONING[:10] not in " ".join(m.content for m in stored)
    assert reasoning_logged(caplog)


async def test_local_a_reply_cut_inside_the_open_block_is_empty_and_logged_as_reasoning(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    got = await local_reply(tmp_path, settings, OPEN_THINK, REASONING, 6)
    assert (got.text, got.finish_reason) == ("", "length")
    assert reasoning_logged(caplog)


async def test_local_a_reply_that_closes_the_block_keeps_what_follows(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    written = f"{REASONING}\n</think>\n\n{REPLY}"
    got = await local_reply(tmp_path, settings, OPEN_THINK, written, 200)
    assert got.text.strip() == REPLY
    assert not reasoning_logged(caplog)


@pytest.mark.parametrize("template", [CHATML_TEMPLATE, CLOSED_THINK])
async def test_local_a_template_that_leaves_no_block_open_keeps_the_reply(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture, template: str
) -> None:
    got = await local_reply(tmp_path, settings, template, REPLY, 200)
    assert got.text == REPLY
    assert not reasoning_logged(caplog)


# The llama.cpp engine (the offline GGUF, its template swapped and its sampler scripted).

GREEDY = GenerationSettings(max_new_tokens=12, do_sample=False, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def gguf_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    settings = Settings(root=tmp_path_factory.mktemp("llamacpp"))
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=4)
    yield engine
    engine._free()


def gguf_reply(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch, template: str, written: str
) -> Generation:
    monkeypatch.setattr(engine.text, "chat_template", template)
    script = iter([*engine.text.tokenize(written), engine.text.eog[0]])
    monkeypatch.setattr(engine, "_sample", lambda *_: next(script))
    (generation,) = engine.generate_sync([CHAT], GREEDY)
    return generation


def test_llamacpp_a_reply_cut_inside_the_open_block_is_empty_and_logged_as_reasoning(
    gguf_engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    got = gguf_reply(gguf_engine, monkeypatch, OPEN_THINK, REASONING * 3)
    assert (got.text, got.finish_reason) == ("", "length")
    assert reasoning_logged(caplog)


def test_llamacpp_a_reply_that_closes_the_block_keeps_what_follows(
    gguf_engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = gguf_reply(gguf_engine, monkeypatch, OPEN_THINK, f"Hmm.</think>\n\n{REPLY}")
    assert got.text.strip() == REPLY


def test_llamacpp_a_template_that_leaves_no_block_open_keeps_the_reply(
    gguf_engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for template in (CHATML_TEMPLATE, CLOSED_THINK):
        assert gguf_reply(gguf_engine, monkeypatch, template, REPLY).text == REPLY


# The openai engine, where the base's tokenizer is here (the served template checked
# against it at start).


def test_openai_knows_the_template_opens_think_from_the_local_tokenizer() -> None:
    assert template_opens_think(template_tokenizer(RealTemplate(OPEN_THINK)))
    assert not template_opens_think(template_tokenizer(RealTemplate(CLOSED_THINK)))
    assert not template_opens_think(template_tokenizer(RealTemplate(CHATML_TEMPLATE)))


def completion(content: str, finish: str, reasoning: str | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    return {
        "choices": [{"message": message, "finish_reason": finish}],
        "usage": {"completion_tokens": 16},
    }


@pytest.mark.parametrize("opened", [True, False])
async def test_openai_a_reply_of_an_open_block_without_a_parser(
    settings: Settings, caplog: pytest.LogCaptureFixture, opened: bool
) -> None:
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient() as client:
        replica = Replica("http://vllm:8000/v1", client)
        engine = OpenAIEngine(settings, [replica], 4096, "base", "base")
        engine.opens_think = opened
        cut = engine._generation(replica, completion(REASONING, "length"), "")
        closed = engine._generation(replica, completion(f"{REASONING}</think>{REPLY}", "stop"), "")
        # Behind a reasoning parser the content is the reply alone.
        parsed = engine._generation(replica, completion(REPLY, "stop", REASONING), "")
    assert cut.text == ("" if opened else REASONING)
    assert reasoning_logged(caplog) == opened
    assert closed.text == (REPLY if opened else f"{REASONING}</think>{REPLY}")
    assert parsed.text == REPLY


async def test_local_a_reply_all_reasoning_is_logged_once_when_answered_early_s58(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Session 58: through the batcher the local engine hands a row's reply on the step it
    ends and returns it again at the batch's end; the reply is made once, so a reasoning-only
    one is logged once (the random model never closes the block)."""
    from model.batching import Batcher

    caplog.set_level(logging.WARNING)
    engine = await LocalEngine.load(local_settings(tmp_path, settings, OPEN_THINK, 6))
    engine.stop_ids = [-1]  # only its budget ends a reply
    batcher = Batcher(engine, settings.generation, max_batch=2, window_seconds=0, queue_size=2)
    batcher.start()
    try:
        generation = await batcher.submit(CHAT)
        while engine.stats.generate_calls == 0:  # the batch's own end, after the early answer
            await asyncio.sleep(0.01)
    finally:
        await batcher.stop()
        await engine.close()
    assert generation.text == "" and generation.finish_reason == "length"
    logged = [r for r in caplog.records if "spent the whole reply budget" in r.getMessage()]
    assert len(logged) == 1

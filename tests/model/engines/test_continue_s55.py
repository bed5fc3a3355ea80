"""A Continue (her unfinished reply ends the chat) on the offline default with the local
and llama.cpp engines: the prompt is the usual one with her reply after the generation
prompt, and greedy decoding from it goes on as the whole reply did."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.chat_template import render_chat
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.loading import load_base_model
from model.engines.local import LocalEngine
from tests.conftest import _model_cache_dir

SYSTEM = "You are ATRI, a cheerful robot girl who lives by the sea. Answer in one sentence."
ASKED: ChatMessages = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Who are you?"},
]
N = 12


def greedy(tokens: int) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)


def continued(so_far: str) -> ChatMessages:
    return [*ASKED, {"role": "assistant", "content": so_far}]


def cut_at_a_word(
    reply: str, tokenize: Callable[[str], list[int]], detokenize: Callable[[list[int]], str]
) -> tuple[str, int]:
    """(the reply's first tokens' text, how many): cut before a token that opens a word
    with its space, the one cut at which the prefix alone tokenizes as it did in the
    reply (checked), so the model reads the very tokens it wrote."""
    ids = tokenize(reply)
    assert detokenize(ids) == reply
    k = next(k for k in range(3, len(ids) - 2) if detokenize(ids[k : k + 1]).startswith(" "))
    prefix = detokenize(ids[:k])
    assert tokenize(prefix) == ids[:k] and reply.startswith(prefix)
    return prefix, k


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(root=tmp_path_factory.mktemp("continue"))
    settings.model.cache_dir = str(_model_cache_dir())
    return settings


@pytest.fixture(scope="module")
def local(settings: Settings) -> LocalEngine:
    return LocalEngine(load_base_model(settings), 2048, prefix_cache=False)


@pytest.fixture(scope="module")
def llamacpp(settings: Settings) -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=2)
    yield engine
    engine._free()


def test_local_renders_her_reply_after_the_generation_prompt(local: LocalEngine) -> None:
    prompt = render_chat(local.tokenizer, ASKED, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    # Verbatim, its trailing space included.
    assert local._render([continued("I am ATRI, ")]) == [prompt + "I am ATRI, "]
    ids = local._encode([ASKED])[0]
    assert local._encode([continued("I am")])[0] == ids + local.tokenizer.encode("I am")
    # Training renders no generation prompt: a chat ending with her reply is a whole one.
    whole = render_chat(local.tokenizer, continued("Hi."), add_generation_prompt=False)
    assert whole.rstrip().endswith("Hi.<|im_end|>")


def test_local_greedy_continuation_is_the_rest_of_the_reply(local: LocalEngine) -> None:
    (whole,) = local.generate_sync([ASKED], greedy(N))
    assert whole.new_tokens == N
    tokenizer = local.tokenizer
    prefix, k = cut_at_a_word(
        whole.text,
        lambda text: tokenizer.encode(text, add_special_tokens=False),
        tokenizer.decode,
    )
    (rest,) = local.generate_sync([continued(prefix)], greedy(N - k))
    assert rest.text == whole.text[len(prefix) :]
    assert rest.text.startswith(" ") and rest.new_tokens == N - k


def test_llamacpp_renders_her_reply_after_the_generation_prompt(llamacpp: LlamaCppEngine) -> None:
    text = llamacpp.text
    prompt = text.render(ASKED)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert text.render(continued("I am ATRI, ")) == prompt + "I am ATRI, "
    assert text.encode(continued("I am")) == text.encode(ASKED) + text.tokenize("I am")


def test_llamacpp_greedy_continuation_is_the_rest_of_the_reply(llamacpp: LlamaCppEngine) -> None:
    (whole,) = llamacpp.generate_sync([ASKED], greedy(N))
    assert whole.new_tokens == N
    prefix, k = cut_at_a_word(whole.text, llamacpp.text.tokenize, llamacpp.text.detokenize)
    (rest,) = llamacpp.generate_sync([continued(prefix)], greedy(N - k))
    assert rest.text == whole.text[len(prefix) :]
    assert rest.text.startswith(" ") and rest.new_tokens == N - k

"""Session 76, ATRI on tiny models of many architectures.

A reply that runs on into a turn opened by a special token (ChatML's <|im_start|>,
Llama-3's <|start_header_id|>, Gemma's <start_of_turn>, Phi-3's <|user|>) was kept whole:
engines decode without special tokens, so `clean_reply` never saw the marker to cut at,
and "…user crab" was her reply, stored and posted. Generation now stops on them in the
local, llama.cpp and openai (vLLM) engines. Phi-3's first template writes her turn's
opening after every user message without refusing two in a row: a group's history showed
her silent between members' lines; such messages are now joined, in training and serving.
And `atri train` says what changed when the samples' prompt is the card's other language
(`[model] base` under `language = "auto"`), with no raw transformers line for a base
without a pad token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from atri.config import GenerationSettings, Settings, load_settings
from model.character.persona import configured_persona
from model.engines.chat_template import chat_rules, render_chat, turn_opening_tokens
from model.engines.local import LocalEngine
from model.protocol import ChatRequest
from model.service import ChatService
from model.training.dataset import IGNORE, tokenize_conversation
from model.training.runner import train
from model.training.sharegpt import Conversation
from tests.model.chat_templates import (
    GEMMA2,
    LLAMA3,
    PHI3_MINI,
    QWEN25,
    REAL_TEMPLATES,
    save_template_model,
    template_tokenizer,
)
from tests.model.engines.test_openai import bodies_sent
from tests.model.training.sharegpt import ZH_PAIRS, conversation, write
from tests.model.training.test_train_eval import write_config
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tiny_model, build_tokenizer

GREEDY = GenerationSettings(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)
CHAT = [{"role": "system", "content": "You are ATRI."}, {"role": "user", "content": "hello"}]
REPLY = "the sea"
MADE_UP = "user crab"  # what follows the opener: the role's name, then the person's words
OPENERS = {
    "qwen25": "<|im_start|>",
    "llama3": "<|start_header_id|>",
    "gemma2": "<start_of_turn>",
    "phi3": "<|user|>",
}
WITH_OPENERS = {"qwen25": QWEN25, "llama3": LLAMA3, "gemma2": GEMMA2, "phi3": PHI3_MINI}


def test_each_template_s_special_turn_opener_is_found() -> None:
    found = {
        name: [m for m, _ in turn_opening_tokens(template_tokenizer(real))]
        for name, real in REAL_TEMPLATES.items()
    }
    for name, opener in OPENERS.items():
        assert found[name] == [opener]
    assert found["glm4"] == ["<|user|>"] and found["yi"] == ["<|im_start|>"]
    # Plain-text markers are no token of their own: `clean_reply` cuts them in the text.
    assert found["llama2"] == found["mistral"] == found["deepseek"] == []


@contextmanager
def writes(engine: LocalEngine, script: list[int]) -> Iterator[None]:
    """The real model's scores biased so that, after CHAT's prompt, greedy decoding
    writes `script`: each step, the token after the last one read gets the best score."""
    prompt_last = engine._encode([CHAT])[0][-1]
    keys = [prompt_last, *script[:-1]]
    assert len(set(keys)) == len(keys), "each step must be told by the token before it"
    follows = dict(zip(keys, script, strict=True))

    def bias(_module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> Any:
        ids = kwargs.get("input_ids", args[0] if args else None)
        for row, last in enumerate(ids[:, -1].tolist()):
            if last in follows:
                output.logits[row, -1, follows[last]] = output.logits[row, -1].max() + 50
        return output

    handle = engine.model.register_forward_hook(bias, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def run_on_script(engine: LocalEngine, name: str) -> list[int]:
    """Her reply, then the turn opener and a made-up turn of the person's, as ids."""
    tokenizer = engine.tokenizer
    opener = tokenizer.convert_tokens_to_ids(OPENERS[name])
    return [
        *tokenizer.encode(REPLY, add_special_tokens=False),
        opener,
        *tokenizer.encode(MADE_UP, add_special_tokens=False),
    ]


@pytest.fixture(params=sorted(OPENERS))
async def template_engine(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_settings: Settings
) -> AsyncIterator[tuple[str, LocalEngine]]:
    from model.engines.loading import load_base_model

    name = request.param
    tiny_settings.model.base = str(save_template_model(tmp_path / name, WITH_OPENERS[name]))
    engine = LocalEngine(load_base_model(tiny_settings), 4096)
    yield name, engine
    await engine.close()


async def test_the_local_engine_stops_at_a_special_turn_opener_in_one_generate(
    template_engine: tuple[str, LocalEngine],
) -> None:
    name, engine = template_engine
    script = run_on_script(engine, name)
    with writes(engine, script):
        (reply,) = engine.generate_sync([CHAT], GREEDY)
    assert (reply.text, reply.finish_reason) == (REPLY, "stop")
    assert reply.new_tokens == script.index(engine.tokenizer.convert_tokens_to_ids(OPENERS[name]))


async def test_the_local_engine_stops_at_a_special_turn_opener_in_the_step_loop(
    template_engine: tuple[str, LocalEngine],
) -> None:
    name, engine = template_engine
    assert engine.steps is not None
    with writes(engine, run_on_script(engine, name)):
        (done,) = engine.generate_rows([CHAT], GREEDY)
        reply = await done
    assert reply.text == REPLY


async def test_the_service_posts_and_stores_her_reply_without_the_made_up_turn(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    tiny_settings.model.base = str(save_template_model(tmp_path / "llama3", LLAMA3))
    tiny_settings.generation.do_sample = False
    tiny_settings.generation.repetition_penalty = 1.0
    async with await ChatService.open(tiny_settings) as service:
        engine = service.engine
        assert isinstance(engine, LocalEngine)
        script = run_on_script(engine, "llama3")
        # The service's prompt ends as CHAT's does: with the generation prompt.
        with writes(engine, script):
            said = await service.chat(ChatRequest(platform="test", user_id="u1", text="hello"))
        assert said.status == "ok" and said.text == REPLY
        stored = await service.memory.history(said.scope)
    assert [m.content for m in stored if m.role == "assistant"] == [REPLY]


def test_the_llamacpp_engine_stops_at_a_special_turn_opener(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from model.engines.gguf_files import gguf_path
    from model.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_path(Settings(root=tmp_path)), "builtin:smollm2-135m", "")
    try:
        im_start = engine.text.tokenize("<|im_start|>")
        assert len(im_start) == 1 and im_start[0] in engine.stop_tokens
        reply = engine.text.tokenize(" Hello there!")
        script = iter([*reply, *im_start, *engine.text.tokenize("user\nmade-up turn")])
        monkeypatch.setattr(engine, "_sample", lambda *_: next(script))
        (out,) = engine.generate_sync([CHAT], GREEDY)
    finally:
        engine._free()
    assert (out.text, out.new_tokens) == (" Hello there!", len(reply))


async def test_vllm_is_asked_to_stop_at_the_turn_opener_of_a_local_base(
    settings: Settings, tmp_path: Path
) -> None:
    """vLLM's text holds no special tokens: the turn opener's id stops it, and its text
    stops a server that keeps them."""
    folder = tmp_path / "qwen"
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    tokenizer.save_pretrained(folder)
    (body,) = await bodies_sent(settings, str(folder), [CHAT])
    assert body["stop_token_ids"] == [tokenizer.convert_tokens_to_ids("<|im_start|>")]
    assert body["stop"] == ["<|im_start|>"]


# Phi-3's first template.

GROUP = [
    {"role": "system", "content": "You are ATRI."},
    {"role": "user", "content": "Alice: hi everyone"},
    {"role": "user", "content": "Bob: ATRI are you here?"},
]


@pytest.mark.parametrize(("name", "her_turn"), [("phi3", "<|assistant|>"), ("yi", "assistant")])
def test_a_template_that_writes_her_turn_after_each_user_message_gets_them_joined(
    name: str, her_turn: str
) -> None:
    """Phi-3's first template, and Yi-1.5's, write her turn's opening after every user
    message: two in a row are one user turn, with no empty turn of hers between."""
    tokenizer = template_tokenizer(REAL_TEMPLATES[name])
    assert chat_rules(tokenizer).alternating
    prompt = render_chat(tokenizer, GROUP, add_generation_prompt=True)
    between = prompt[prompt.index("hi everyone") : prompt.index("Bob:")]
    assert between == "hi everyone\n\n"
    assert prompt.count(her_turn) == 1


def test_phi3_s_first_template_joins_user_messages_in_a_row_when_training() -> None:
    tokenizer = template_tokenizer(PHI3_MINI)
    turns = (("user", "more"), ("user", "again"), ("assistant", "crab please"))
    sample = tokenize_conversation(tokenizer, Conversation("You are ATRI.", turns))
    prompt = tokenizer.decode(
        [t for t, label in zip(sample.input_ids, sample.labels, strict=True) if label == IGNORE]
    )
    assert "more\n\nagain" in prompt and prompt.count("<|assistant|>") == 1


@pytest.mark.parametrize("name", ["qwen25", "llama3", "deepseek", "glm4", "qwen3"])
def test_templates_that_take_user_messages_in_a_row_keep_them_apart(name: str) -> None:
    assert not chat_rules(template_tokenizer(REAL_TEMPLATES[name])).alternating


# `atri train`'s lines.


def test_training_names_the_language_change_and_routes_transformers_pad_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Samples prepped under the offline default (English, as `language = "auto"` picks
    there) trained on another base: the note names the language and what picked it, not
    `training_prompt`. The base's tokenizer has no pad token: transformers' Trainer
    aligns the model's config, and its line goes to ATRI's log, not to stderr."""
    import transformers

    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    tokenizer.pad_token = None
    model_dir = build_tiny_model(tmp_path / "no-pad", tokenizer=tokenizer)
    config = write_config(tmp_path, model_dir, max_steps=1, gradient_accumulation=1)
    settings = load_settings(config)
    settings.persona.language = "en"
    prepared = configured_persona(settings).training_prompt(settings.persona.training_prompt)
    settings.persona.language = "auto"
    rows = [conversation([ZH_PAIRS[i % 4]], prepared) for i in range(8)]
    write(tmp_path / "data" / "atri_sharegpt.json", rows)
    write(tmp_path / "data" / "atri_sharegpt_eval.json", rows[:2])

    reached: list[str] = []
    catcher = logging.Handler()
    catcher.emit = lambda record: reached.append(record.getMessage())  # type: ignore[method-assign]
    aligner = logging.getLogger("transformers.trainer_utils")
    aligner.addHandler(catcher)
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    caplog.set_level(logging.INFO, logger="model.training.runner")
    said: list[str] = []
    try:
        train(settings, notify=said.append)
    finally:
        aligner.removeHandler(catcher)
        transformers.logging.set_verbosity(level)

    [note] = [m for m in said if "training prompt" in m or "as set now" in m]
    assert "its samples carry the English training prompt" in note
    assert "the card speaks Chinese now" in note
    assert f'[persona] language = "auto" picks it for [model] base = "{model_dir}"' in note
    assert 'set [persona] language = "en"' in note and "atri prep" in note
    assert "as set now" not in note
    assert not [m for m in reached if "PAD/BOS/EOS" in m]
    assert "the model's config takes the tokenizer's special tokens for training" in caplog.text


def test_a_prompt_the_same_in_every_language_is_no_language_change(settings: Settings) -> None:
    from model.training.data_files import other_language_note

    same = {"zh": "Be ATRI.", "en": "Be ATRI."}
    assert other_language_note("Be ATRI.", same, settings, Path("d.json")) == ""
    settings.persona.language = "zh"
    said = other_language_note("Be A.", {"zh": "Be B.", "en": "Be A."}, settings, Path("d.json"))
    assert 'the card speaks Chinese now ([persona] language = "zh")' in said

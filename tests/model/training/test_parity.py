"""Parity: the ids a live version is served with begin with the ids it was trained on.

Training builds a sample from (system prompt, turns) with the base model's template;
the worker builds a chat from the live version's prompt and the stored turns. For the
same prompt and turns, the engine must receive exactly training's ids up to the reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atri.config import Settings
from model.engines.loading import load_base_model
from model.engines.local import LocalEngine
from model.protocol import ChatRequest
from model.service import ChatService
from model.training.dataset import IGNORE, tokenize_conversation
from model.training.sharegpt import Conversation
from tests.model.adapters.make_versions import base_config_hash, write_version

TRAINING_PROMPT = "你是亚托莉。请以亚托莉的身份和口吻与{{user}}聊天，不要跳出角色。"
VERSION = "20250101-000001"


class RecordingEngine(LocalEngine):
    """The local engine, keeping the token ids of every row it is asked to generate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[list[int]] = []

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # Every row the engine generates from is tokenized here (the smoke test's too).
        rows = super()._tokenize(texts)
        self.rows += rows
        return rows


def served_settings(settings: Settings, model_dir: Path) -> Settings:
    settings.model.base = str(model_dir)
    settings.generation.do_sample = False
    settings.generation.max_new_tokens = 6
    settings.generation.repetition_penalty = 1.0
    settings.reload.enabled = False
    settings.worker.ooc_max_retries = 0
    return settings


def training_ids_before_last_reply(tokenizer: Any, system: str, turns: list[Any]) -> list[int]:
    """Training's ids for (system, turns + a reply), cut where the last reply's labels start."""
    conv = Conversation(system, (*turns, ("assistant", "好的！")))
    sample = tokenize_conversation(tokenizer, conv)
    last = max(i for i, label in enumerate(sample.labels) if label == IGNORE)
    start = next(i for i in range(last, -1, -1) if sample.labels[i] == IGNORE) + 1
    return sample.input_ids[:start]


async def test_a_live_version_gets_the_ids_it_was_trained_on(
    settings: Settings, any_tiny_model_dir: Path
) -> None:
    settings = served_settings(settings, any_tiny_model_dir)
    write_version(
        settings.path(settings.model.adapters_dir),
        VERSION,
        any_tiny_model_dir,
        base_model=str(any_tiny_model_dir),
        config_hash=base_config_hash(any_tiny_model_dir),
        system_prompt=TRAINING_PROMPT,
    )
    engine = RecordingEngine(load_base_model(settings), 4096)
    async with await ChatService.open(settings, engine) as service:
        card = service.system_prompt
        assert card != TRAINING_PROMPT  # no adapter: the whole card
        assert (await service.reload(VERSION)).ok
        assert service.system_prompt == TRAINING_PROMPT
        first = await service.chat(ChatRequest(platform="t", user_id="1", text="你好，亚托莉"))
        second = await service.chat(ChatRequest(platform="t", user_id="1", text="去海边吧"))
        assert first.adapter_version == second.adapter_version == VERSION
    # The reload's smoke test was served with the version's prompt too.
    smoke_ids = training_ids_before_last_reply(
        engine.tokenizer,
        TRAINING_PROMPT,
        [("user", service.persona.smoke_prompt(settings.reload.smoke_prompt))],
    )
    assert engine.rows[0] == smoke_ids
    turns = [("user", "你好，亚托莉"), ("assistant", first.text), ("user", "去海边吧")]
    expected = training_ids_before_last_reply(engine.tokenizer, TRAINING_PROMPT, turns)
    assert engine.rows[-1] == expected
    # And the served row begins with training's whole first exchange, reply included.
    trained_first = tokenize_conversation(
        engine.tokenizer, Conversation(TRAINING_PROMPT, tuple(turns[:2]))
    ).input_ids
    assert engine.rows[-1][: len(trained_first)] == trained_first

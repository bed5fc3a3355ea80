"""Session 52: each engine tells the chat template its model renders with
(`base.chat_template_of`), so a reply is cut at that template's user marker
(`chat_template.user_turn_markers`, `clean_reply`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from atri.config import Settings
from model.engines.base import chat_template_of
from model.engines.chat_template import user_turn_markers
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.loading import load_base_model
from model.engines.local import LocalEngine
from model.engines.openai import OpenAIEngine
from model.engines.vllm_replica import Replica
from tests.model.chat_templates import (
    MISTRAL_V02,
    PHI3_MINI,
    save_template_model,
    template_tokenizer,
)


def markers_of(engine: object) -> tuple[str, ...]:
    return user_turn_markers(chat_template_of(engine))


def test_the_local_engine_tells_its_tokenizers_template(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    tiny_settings.model.base = str(save_template_model(tmp_path / "phi3", PHI3_MINI))
    engine = LocalEngine(load_base_model(tiny_settings), 4096)
    assert markers_of(engine) == ("<|user|>",)


async def test_the_openai_engine_tells_the_bases_template_where_its_tokenizer_is_here(
    settings: Settings,
) -> None:
    async with httpx.AsyncClient() as client:
        engine = OpenAIEngine(settings, [Replica("http://vllm:8000/v1", client)], 4096, "b", "b")
        assert chat_template_of(engine) == ""  # none here: no marker is cut at
        engine.tokenizer = template_tokenizer(MISTRAL_V02)
        assert markers_of(engine) == ("[INST]",)


def test_the_llamacpp_engine_tells_the_configured_template(tmp_path: Path) -> None:
    path = gguf_path(Settings(root=tmp_path))
    engine = LlamaCppEngine(path, "builtin:smollm2-135m", "", chat_template=MISTRAL_V02.template)
    try:
        assert markers_of(engine) == ("[INST]",)
    finally:
        engine._free()

"""Engines behind one protocol (`base.Engine`); `create_engine` picks the configured one.

- `local`: transformers + peft in this process (`local.py`, loading in `loading.py`,
  the offline default model's GGUF converted once in `offline_gguf.py`, the
  shared-prompt KV cache in `prefix_cache.py`);
- `llamacpp`: a GGUF model through llama.cpp on the CPU (`llamacpp.py`; the GGUF's
  tokenizer and chat template in `gguf_text.py`);
- `openai`: a remote OpenAI-compatible server such as vLLM (`openai.py`; a replica and
  its model list in `vllm_replica.py`, the served chat template in `served_template.py`);
- `echo`: no model (`echo.py`).
"""

from __future__ import annotations

from atri.config import Settings
from model.character.persona import Persona, configured_persona
from model.engines.base import Engine


async def create_engine(settings: Settings, persona: Persona | None = None) -> Engine:
    """`persona`: the configured character in the language she speaks, when the caller
    has it (the echo engine names her); else read from the config."""
    if settings.model.engine == "echo":
        from model.engines.echo import EchoEngine

        return EchoEngine.for_persona(persona or configured_persona(settings))
    if settings.model.engine == "llamacpp":
        from model.engines.llamacpp import LlamaCppEngine

        return await LlamaCppEngine.load(settings)
    if settings.model.engine == "openai":
        from model.engines.openai import OpenAIEngine

        return await OpenAIEngine.open(settings)
    from model.engines.local import LocalEngine

    return await LocalEngine.load(settings)

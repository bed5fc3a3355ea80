"""`EchoEngine`: answers with the message itself and loads no model (bot tests, relay
benchmarks, and `[model] engine = "echo"` for trying a bot's wiring)."""

from __future__ import annotations

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import EngineStats, Generation


class EchoEngine:
    """Answers with a fixed transformation of the last user message; loads no model."""

    name = "echo"
    base_id = "echo"
    config_hash = "echo"
    context_window = 32768
    prefix = "亚托莉听到了："

    def __init__(self) -> None:
        self.stats = EngineStats()

    @property
    def adapter_version(self) -> str:
        return ""

    def count_tokens(self, text: str) -> int:
        return len(text)

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        self.stats.generate_calls += 1
        self.stats.batch_sizes.append(len(batch))
        out = []
        for messages in batch:
            text = self.prefix + messages[-1]["content"]
            out.append(Generation(text=text, new_tokens=len(text)))
        self.stats.generated_rows += len(batch)
        return out

    async def close(self) -> None:
        return None

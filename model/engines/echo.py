"""`EchoEngine`: answers with the message itself and loads no model (bot tests, relay
benchmarks, and `[model] engine = "echo"` for trying a bot's wiring)."""

from __future__ import annotations

from collections.abc import Sequence

from atri.config import GenerationSettings
from model.character.persona import Persona
from model.character.prompt import ChatMessages, split_reply_so_far
from model.engines.base import EngineStats, Generation, RowLimits, row_limits

# What the echo says before the message, per card language ({{char}}: her name), so
# another character's bot never answers as ATRI.
PREFIXES = {
    "zh": "{{char}}听到了：",
    "en": "{{char}} heard: ",
    "ja": "{{char}}に聞こえたよ：",
}


class EchoEngine:
    """Answers with the last user message after a prefix naming the character; loads no
    model. `prefix` (the class's) is ATRI's own, for a test that builds one directly."""

    name = "echo"
    base_id = "echo"
    config_hash = "echo"
    context_window = 32768
    prefix = "亚托莉听到了："

    def __init__(self, prefix: str = prefix) -> None:
        self.prefix = prefix
        self.stats = EngineStats()

    @classmethod
    def for_persona(cls, persona: Persona) -> EchoEngine:
        """Said in the card's language, with its name (as `reply_lines` are)."""
        template = PREFIXES.get(persona.main_language, PREFIXES["en"])
        return cls(template.replace("{{char}}", persona.name))

    @property
    def adapter_version(self) -> str:
        return ""

    def count_tokens(self, text: str) -> int:
        return len(text)

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        """A character is a token here (see count_tokens): a row's cap cuts characters."""
        self.stats.generate_calls += 1
        self.stats.batch_sizes.append(len(batch))
        out = []
        for messages, limit in zip(batch, row_limits(limits, len(batch)), strict=True):
            # The user's turn, also under her unfinished reply (a Continue), which it goes on.
            text = self.prefix + split_reply_so_far(messages)[0][-1]["content"]
            cap = limit.max_new_tokens
            if limit.stop:
                text, _ = limit.cut(text)
            if 0 < cap < len(text):
                out.append(Generation(text=text[:cap], new_tokens=cap, finish_reason="length"))
            else:
                out.append(Generation(text=text, new_tokens=len(text)))
        self.stats.generated_rows += len(batch)
        self.stats.generated_tokens += sum(g.new_tokens for g in out)
        return out

    async def close(self) -> None:
        return None

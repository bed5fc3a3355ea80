"""What every engine is: the `Engine` protocol and the data it returns.

An engine turns a batch of chat conversations into replies. The service never knows
which one answers: `local` (transformers + peft), `openai` (a remote vLLM), or `echo`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages

RECENT_BATCHES = 1000


@dataclass
class Generation:
    text: str
    new_tokens: int
    adapter_version: str = ""


@dataclass
class EngineStats:
    generate_calls: int = 0
    generated_rows: int = 0
    generated_tokens: int = 0
    # Prompt tokens fed in, and how many of them came from the prefix cache instead.
    prompt_tokens: int = 0
    prefix_reused_tokens: int = 0
    # The most recent batch sizes only: a worker runs for weeks, a list would grow forever.
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))


class Engine(Protocol):
    name: str
    base_id: str
    config_hash: str
    context_window: int
    stats: EngineStats

    @property
    def adapter_version(self) -> str: ...

    def count_tokens(self, text: str) -> int: ...

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]: ...

    async def close(self) -> None: ...

"""Echo engines for tests: one that holds each batch until the test lets it go (a reply
in flight, for the tests of what happens meanwhile: a reset, a delete, a copy,
retention), and one that keeps every prompt it was given."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from atri.config import GenerationSettings
from model.character.prompt import ChatMessages
from model.engines.base import Generation, RowLimits
from model.engines.echo import EchoEngine


class HeldEcho(EchoEngine):
    """Echo that sets `started` when a batch comes and answers it once `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        self.started.set()
        await self.gate.wait()
        return await super().generate(batch, gen, limits)


class RecordingEcho(EchoEngine):
    """Echo that keeps each prompt (chat) it was given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[ChatMessages] = []

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        self.prompts.extend(batch)
        return await super().generate(batch, gen, limits)

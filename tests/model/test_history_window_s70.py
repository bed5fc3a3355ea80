"""`[memory] max_history_messages` is the most earlier messages looked at for one reply:
with summaries off, her prompt shows no more of them, however much is stored and
however many tokens `max_history_tokens` would allow."""

from __future__ import annotations

from collections.abc import Sequence

from atri.config import GenerationSettings, Settings
from model.engines.base import Generation, RowLimits
from model.engines.echo import EchoEngine
from model.protocol import ScopeRef
from model.service import ChatService
from tests.model.test_service import req


class RecordingEcho(EchoEngine):
    """Echo, and keep every prompt it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[dict[str, str]]] = []

    async def generate(
        self,
        batch: list[list[dict[str, str]]],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        self.seen += batch
        return await super().generate(batch, gen, limits)


async def test_her_prompt_shows_at_most_max_history_messages_earlier_messages(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.max_history_messages = 4
    echo_settings.memory.summaries = False
    echo_settings.memory.max_history_tokens = 100_000  # the message count alone caps it
    engine = RecordingEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        for n in range(6):
            await service.chat(req(f"message number {n}"))
        earlier = [m["content"] for m in engine.seen[-1][1:-1]]  # no system, no new message
        assert earlier == [
            "message number 3",
            EchoEngine.prefix + "message number 3",
            "message number 4",
            EchoEngine.prefix + "message number 4",
        ]
        # The worker's /history, "what the model sees", is capped alike.
        live = await service.history(ScopeRef(platform="test", user_id="u1"))
        assert len(live) == 4

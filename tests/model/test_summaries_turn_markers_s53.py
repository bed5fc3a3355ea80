"""Session 53: a summary the model ran on into a turn it wrote for the person, opened with
its template's user marker as text (Mistral's `[INST]`), was stored with that turn in it:
the summarizer cleaned its answer without the served template's markers, which a reply
is cut at (`clean_reply`, `user_turn_markers`), so only the marker went and the made-up
words stayed, as something remembered. It is cut there now, at a fold and at a rewrite
as one (compaction) alike."""

from __future__ import annotations

import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.service import ChatService
from tests.model.chat_templates import MISTRAL_V02
from tests.model.test_summaries import FILLER, ScriptedEngine, chat, english

# Words of the conversation (so the summary check takes them as said), in a user turn
# the model wrote on after its summary.
FAKE_TURN = " [INST] Tell me about the weather over the sea today [/INST]"


class RunsOnEngine(ScriptedEngine):
    """`ScriptedEngine` serving a Mistral template, whose answers to one kind of summary
    request (a fold of new exchanges, or a rewrite of the summary as one) go on into a
    user turn of its own."""

    chat_template = MISTRAL_V02.template

    def __init__(self, runs_on_at: str) -> None:
        super().__init__()
        self.runs_on_at = runs_on_at

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        out = await super().generate(batch, gen)
        for messages, generation in zip(batch, out, strict=True):
            if self.is_summary(messages) and generation.text:
                folding = "Natsuki: " in messages[-1]["content"]  # a transcript to fold
                if folding == (self.runs_on_at == "fold"):
                    generation.text += FAKE_TURN
        return out


@pytest.mark.parametrize("runs_on_at", ["fold", "compaction"])
async def test_a_summary_is_cut_at_the_turn_the_model_wrote_on_into(
    settings: Settings, runs_on_at: str
) -> None:
    english(settings, budget=300).memory.summary_max_tokens = 60
    engine = RunsOnEngine(runs_on_at)
    async with await ChatService.open(settings, engine=engine) as service:
        assert service.summarizer is not None
        for fact in ("My cat is called Mochi.", "My sister is Minamo.", "My town is flooded."):
            await service.chat(chat(fact))
            for _ in range(3):
                await service.chat(chat(FILLER))
            await service.summarizer.idle()
        assert service.summarizer.compactions >= 1
        summaries = await service.memory.all_summaries(service.scope_for("test", "u1"))
    assert summaries and "Mochi" in summaries[-1].text
    for summary in summaries:
        assert "weather" not in summary.text and "INST" not in summary.text, summary.text

"""The summary fallback keeps questions where nothing else was said, and never stores an
empty summary (QA 38).

When the model's answer is no summary (or empty), the person's own statements are kept in
its place (`notes`). A line that ended in a question was always dropped, so someone who
only asked things was summarised as "" and those exchanges vanished from every later
prompt. Questions beside statements stay out: they would fill the summary.
"""

from __future__ import annotations

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.memory import Message
from model.service import ChatService
from model.summaries import LABELS, notes, split_exchanges
from tests.model.test_summaries import RamblingEngine, ScriptedEngine, chat, english

QUESTIONS = [
    "Do you remember that my cat Mochi is ill?",
    "Will the sea rise over the town again this summer?",
    "Could you tell me the name of your favourite crab?",
    "Is Ryuji still building his rocket in the shed?",
]


class SilentEngine(ScriptedEngine):
    """Asked for a summary, a small model that writes nothing at all."""

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        out = await super().generate(batch, gen)
        return [
            Generation("", 0, self.version) if self.is_summary(m) else g
            for m, g in zip(batch, out, strict=True)
        ]


async def asked_only(service: ChatService, rounds: int = 2) -> str:
    """A person who only asks questions, past the history budget; their summary."""
    assert service.summarizer is not None
    for _ in range(rounds):
        for question in QUESTIONS:
            await service.chat(chat(question))
        await service.summarizer.idle()
    summary = await service.memory.summary(service.scope_for("test", "u1"))
    assert summary is not None, "nothing was folded"
    return summary.text


async def test_a_person_who_only_asks_keeps_their_questions(settings: Settings) -> None:
    engine = RamblingEngine("Stay tuned for another exciting update, everybody!")
    async with await ChatService.open(english(settings), engine=engine) as service:
        text = await asked_only(service)
        assert service.summarizer is not None and service.summarizer.not_summaries >= 1
    lines = text.splitlines()
    assert lines and lines[0] == f"Natsuki: {QUESTIONS[0]}"
    assert set(lines) <= {f"Natsuki: {q}" for q in QUESTIONS}  # each once, nothing made up


async def test_an_empty_answer_is_no_summary(settings: Settings) -> None:
    english(settings).memory.summary_max_tokens = 1000  # no rewrite as one: all lines stay
    engine = SilentEngine()
    async with await ChatService.open(settings, engine=engine) as service:
        await service.chat(chat("My cat is called Mochi."))
        text = await asked_only(service)
        assert service.summarizer is not None and service.summarizer.written >= 1
        # Every summary ever stored for the scope held words (an empty one hid the
        # exchanges it covered from the model).
        stored = await service.memory.all_summaries(service.scope_for("test", "u1"))
    assert stored and all(s.text.strip() for s in stored)
    # A statement was kept: the questions after it add nothing the summary needs.
    assert text.splitlines() == ["Natsuki: My cat is called Mochi."]


def test_notes_tell_questions_apart_in_every_language() -> None:
    said = [
        ("user", "你喜欢火车吗"),
        ("assistant", "喜欢！"),
        ("user", "電車は好きですか"),
        ("assistant", "はい"),
        ("user", "Is it raining?"),
        ("user", "   "),
    ]
    messages = [
        Message(i, "s", role, "u", "夏生", text, 0.0, "", False)
        for i, (role, text) in enumerate(said, start=1)
    ]
    exchanges = split_exchanges(messages)
    asked = notes(exchanges, LABELS["zh"], questions=True).splitlines()
    assert asked == ["夏生：你喜欢火车吗", "夏生：電車は好きですか", "夏生：Is it raining?"]
    assert notes(exchanges, LABELS["zh"]) == ""

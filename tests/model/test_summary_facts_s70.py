"""Session 70: the rolling summary keeps its facts, and people can see it. Invented prose
passed the grounding check on "the" and its repeats and replaced every remembered fact;
a refused rewrite dropped facts without a word; the console's `/memory` never showed the
summary; `/atri memory` flattened it and kept its oldest lines."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from atri.config import GenerationSettings, Settings
from bot import commands
from bot.commands import MEMORY_SUMMARY_CHARS, Actor
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.protocol import HistoryEntry, Remembered, ScopeRef
from model.service import ChatService
from model.summaries import is_summary_of, keeps_facts_of
from tests.bot.test_console_command_name_s53 import console_says
from tests.model.test_summaries import ScriptedEngine, chat, english

# What SmolLM2-135M wrote for Yuki's summary (the tester's run): it passed with a share of
# 0.327, its only "grounded" words "the", "great" and "disaster".
STORY = (
    "I'm going to write a short story based on the events of the Great Disaster. I'll "
    "start by describing the scene where the Great Disaster occurs.\n…Here's an example "
    'of my writing:\n"As I walked through the old town, I saw a massive wave crashing '
    "against the side of the hill."
)
FOLDED = (
    "Yuki: I read a book about robots. (19)\n"
    "ATRI: A book about robots! The great disaster took the old town, you know.\n"
    "Yuki: The train was late again, so I walked to the side of the hill."
)
REMEMBERED = (
    "Yuki: My name is Yuki and my cat is called Mochi.\n"
    "Yuki: My birthday is March 14.\n"
    "Yuki: I moved to Kyoto last week."
)


def test_invented_prose_is_no_summary_of_what_was_said() -> None:
    assert not is_summary_of(STORY, FOLDED, ("ATRI", "Yuki"))
    assert is_summary_of("Yuki read a book about robots; her train was late.", FOLDED, ("Yuki",))


def test_a_rewrite_must_keep_the_summarys_names_and_numbers() -> None:
    assert not keeps_facts_of(STORY, REMEMBERED, ("Yuki",))
    assert keeps_facts_of("Yuki (born March 14) has a cat, Mochi; now in Kyoto.", REMEMBERED)
    assert not keeps_facts_of("小雪的猫很可爱。", "小雪：我叫小雪，生日是3月14日，猫叫Mochi")


class StoryTeller(ScriptedEngine):
    """Folds as a model that keeps facts; asked to rewrite the whole summary (no
    transcript in the request), it writes a summary of it in its own words, none of its
    names among them."""

    REWRITE = "The cat is called something, the sister is called something, the town flooded."

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        out = await super().generate(batch, gen)
        return [
            Generation(self.REWRITE, 10, self.version) if self._rewrite(m) else g
            for m, g in zip(batch, out, strict=True)
        ]

    def _rewrite(self, messages: ChatMessages) -> bool:
        return self.is_summary(messages) and "Natsuki: " not in messages[1]["content"]


async def test_a_rewrite_that_drops_the_names_is_refused_logged_and_counted(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    english(settings, budget=300).memory.summary_max_tokens = 60
    filler = "Tell me about the weather over the sea today, please."
    caplog.set_level(logging.DEBUG, logger="model.summaries")
    async with await ChatService.open(settings, engine=StoryTeller()) as service:
        assert service.summarizer is not None
        for fact in ("My cat is called Mochi.", "My sister is Minamo.", "My town is flooded."):
            await service.chat(chat(fact))
            for _ in range(3):
                await service.chat(chat(filler))
            await service.summarizer.idle()
        assert service.summarizer.compactions >= 1
        summary = await service.memory.summary(service.scope_for("test", "u1"))
        assert summary is not None and StoryTeller.REWRITE not in summary.text
        assert "flooded" in summary.text  # the newest lines stay
        details = (await service.status()).details
    assert details["summary_compactions"] == service.summarizer.compactions
    assert details["summary_answers_not_taken"] >= 1
    told = [r for r in caplog.records if r.levelno == logging.INFO and "dropped" in r.message]
    assert told and "oldest" in told[0].message
    assert not any("Mochi" in r.message for r in caplog.records if r.levelno > logging.DEBUG)


SUMMARY = "\n".join(f"小雪：第{day}天：今天天气不错，我们去海边散步吧。" for day in range(47, 89))


class Remembers:
    """A worker that remembers a long summary and two turns."""

    def __init__(self) -> None:
        self.asked: list[ScopeRef] = []

    async def remembered(self, scope: ScopeRef) -> Remembered:
        self.asked.append(scope)
        turns = [
            HistoryEntry(role="user", content="第89天：下雨了", user_id=scope.user_id),
            HistoryEntry(role="assistant", content="那就在家吧"),
        ]
        return Remembered(summary=SUMMARY, turns=turns)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"/memory asked the worker for {name}")


async def test_atri_memory_keeps_the_summarys_newest_lines() -> None:
    actor = Actor(platform="discord", user_id="fan2", is_admin=False)
    text = (await commands.remembered(Remembers(), actor)).text  # type: ignore[arg-type]
    assert "小雪：第88天：今天天气不错，我们去海边散步吧。\n" in text  # whole, on its line
    assert "第47天" not in text and "…\n小雪：第" in text
    summary = text.split("\n\n")[0]
    assert len(summary) <= MEMORY_SUMMARY_CHARS + 20  # the heading beside the summary


async def test_console_memory_shows_the_summary_then_recent_turns(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = Remembers()
    monkeypatch.setattr(echo_service, "remembered", worker.remembered)
    shown = await console_says(echo_service, "/memory\n/quit\n")
    assert worker.asked and "小雪：第47天" in shown and "小雪：第88天" in shown
    assert shown.index("第88天") < shown.index("you: 第89天：下雨了")
    assert "ATRI: 那就在家吧" in shown

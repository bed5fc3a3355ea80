"""Session 67: rolling summaries under load, as an operator drove them. After a burst the
summary fell behind and stayed behind while the room was quiet (one fold per request,
and only a new message asked for one), so her prompt skipped from the summary's end to
the exchanges it still showed; a failing summariser logged a traceback per fold; and a
`summary_max_tokens` past the context window asked the model to summarise nothing."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.service import ChatService
from tests.model.test_summaries import ScriptedEngine, SummaryGatedEngine, chat, english

NUMBER = re.compile(r"number is (\d+)")


def operator_settings(settings: Settings) -> Settings:
    """The defaults the operator ran with, and no rewrite as one (every number folded
    stays in the summary, so what her prompt lacks was never folded)."""
    english(settings, budget=1024).memory.summary_fold_exchanges = 8
    settings.memory.summary_max_tokens = 4000
    return settings


def numbers_in(prompt: ChatMessages) -> set[int]:
    return {int(n) for m in prompt for n in NUMBER.findall(m["content"])}


async def told_numbers(service: ChatService, count: int, user: str = "u1") -> str:
    """`count` exchanges "My number is N." stored as answered ones are, oldest first."""
    scope = service.scope_for("test", user)
    for n in range(count):
        await service.memory.append(scope, "user", user, f"My number is {n}.", "Natsuki")
        await service.memory.append(scope, "assistant", "", f"ok: My number is {n}.")
    return scope


async def test_after_a_burst_the_summary_catches_up_while_the_room_is_quiet(
    settings: Settings,
) -> None:
    """The operator's burst: the summaries wait (replies come first) while 80 messages
    are answered; once it is quiet, they fold on until no number is left out of both
    the summary and the prompt, without a new message asking for each fold."""
    engine = SummaryGatedEngine()
    async with await ChatService.open(operator_settings(settings), engine=engine) as service:
        summarizer = service.summarizer
        assert summarizer is not None
        for n in range(80):
            await service.chat(chat(f"My number is {n}."))
        assert summarizer.written == 0  # a fold that started waits at the gate
        engine.summary_gate.set()
        async with asyncio.timeout(10):
            await summarizer.idle()
        assert summarizer.written > 2  # more than the folds the burst asked for
        await service.chat(chat("What numbers did I tell you?"))
        seen = numbers_in(engine.prompts[-1])
    # The summary's newest lines, then the exchanges after its end: no gap between them.
    assert seen == set(range(min(seen), 80))


class FailingSummaries(ScriptedEngine):
    """Writes the first `succeeding` summaries, then fails every summary request as an
    engine out of memory would; replies go through."""

    def __init__(self, succeeding: int = 0) -> None:
        super().__init__()
        self.succeeding = succeeding
        self.summary_requests = 0

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        if any(self.is_summary(m) for m in batch):
            self.summary_requests += 1
            if self.summary_requests > self.succeeding:
                raise RuntimeError("CUDA out of memory (simulated)")
        return await super().generate(batch, gen)


async def test_catching_up_stops_at_the_first_failed_fold(settings: Settings) -> None:
    engine = FailingSummaries(succeeding=1)
    async with await ChatService.open(operator_settings(settings), engine=engine) as service:
        summarizer = service.summarizer
        assert summarizer is not None
        await told_numbers(service, 60)
        await service.chat(chat("My number is 60."))
        async with asyncio.timeout(5):
            await summarizer.idle()
        # The first fold left it behind and asked for the next, which failed: no more.
        assert (engine.summary_requests, summarizer.written) == (2, 1)
        await asyncio.sleep(0.1)
        assert engine.summary_requests == 2


class HeldSummaries(ScriptedEngine):
    """Holds each summary request until the test lets one through (`allowed`)."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed = asyncio.Semaphore(0)
        self.summaries_started = 0

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        if any(self.is_summary(m) for m in batch):
            self.summaries_started += 1
            await self.allowed.acquire()
        return await super().generate(batch, gen)


async def test_catching_up_stops_when_the_worker_closes(settings: Settings) -> None:
    """Two conversations behind: u1's next fold waits its turn behind u2's when the
    worker closes. It is not folded, and nothing is left that `idle` would wait for."""
    engine = HeldSummaries()
    service = await ChatService.open(operator_settings(settings), engine=engine)
    summarizer = service.summarizer
    assert summarizer is not None
    async with service:
        for user in ("u1", "u2"):  # as a message past the budget asks
            summarizer.request(await told_numbers(service, 60, user))
        engine.allowed.release()  # u1's first fold; then u2's, held
        async with asyncio.timeout(5):
            while engine.summaries_started < 2:
                await asyncio.sleep(0.005)
        assert summarizer.written == 1 and summarizer.pending == 2  # u2 folding, u1 queued
    await asyncio.sleep(0.1)
    assert engine.summaries_started == 2
    async with asyncio.timeout(1):
        await summarizer.idle()


def summary_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "model.summaries" and r.levelno >= logging.ERROR]


async def test_a_failing_summariser_is_logged_once_a_while(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Every message past the budget asks for a fold, and each failed: one line (the
    first with its traceback), then one saying how often it failed meanwhile."""
    engine = FailingSummaries()
    async with await ChatService.open(english(settings), engine=engine) as service:
        summarizer = service.summarizer
        assert summarizer is not None
        for n in range(20):
            await service.chat(chat(f"My number is {n}, and the sea was calm today."))
            await summarizer.idle()
        assert engine.summary_requests >= 10
        (first,) = summary_errors(caplog)
        assert first.exc_info is not None
        assert "CUDA out of memory (simulated)" in first.getMessage()
        assert "at most every 5 minutes" in first.getMessage()
        start = summarizer.engine_failures.clock()
        summarizer.engine_failures.clock = lambda: start + 301
        await service.chat(chat("My number is 20, and the sea was calm today."))
        await summarizer.idle()
    later = summary_errors(caplog)[1:]
    assert len(later) == 1 and later[0].exc_info is None
    assert f"It happened {engine.summary_requests - 2} more times" in later[0].getMessage()


@pytest.mark.parametrize("max_tokens", [32768, 100000])
async def test_a_summary_size_past_the_context_window_turns_summaries_off(
    settings: Settings, caplog: pytest.LogCaptureFixture, max_tokens: int
) -> None:
    english(settings).memory.summary_max_tokens = max_tokens
    engine = ScriptedEngine()
    with caplog.at_level(logging.WARNING):
        async with await ChatService.open(settings, engine=engine) as service:
            assert service.summarizer is None
            for n in range(8):
                reply = await service.chat(chat(f"My number is {n}, and the sea was calm."))
                assert reply.status == "ok"
    assert not any(ScriptedEngine.is_summary(p) for p in engine.prompts)
    (warning,) = [r for r in caplog.records if "summary_max_tokens" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith(
        f"[memory] summary_max_tokens = {max_tokens} leaves no room for a summary request"
    )
    assert "32768-token context window" in warning.getMessage()
    assert "Summaries are off" in warning.getMessage()


async def test_the_size_the_warning_names_keeps_summaries_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    english(settings).memory.summary_max_tokens = 32768
    async with await ChatService.open(settings, engine=ScriptedEngine()) as service:
        assert service.summarizer is None
    said = re.search(r"lower it to (\d+) or less", caplog.text)
    assert said is not None
    for max_tokens, on in [(int(said[1]), True), (int(said[1]) + 1, False)]:
        settings.memory.summary_max_tokens = max_tokens
        async with await ChatService.open(settings, engine=ScriptedEngine()) as service:
            assert (service.summarizer is not None) == on

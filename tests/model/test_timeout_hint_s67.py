"""Two log problems under load (session 67): a prompt too long to read within the request
deadline is logged with the settings that would let it be answered, once every few
minutes, on every engine; a failing memory summary's batch is its caller's to log, not
the batcher's traceback each time."""

from __future__ import annotations

import asyncio
import logging

import pytest

from atri.config import GenerationSettings, Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.test_batching import OneBatchAtATime, StepEngine, msg, spawn, started

HINT = "request_timeout_seconds = 0.3 on this machine"


class NeverDoneEcho(EchoEngine):
    """Echo on a 4,000-token window that never ends a batch: a CPU still reading a long
    prompt when the deadline passes (a character is a token here)."""

    context_window = 4000

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()
        raise AssertionError("never answered")


class ReadsOnLlamaCpp(NeverDoneEcho):
    """The same, named as the llamacpp engine, which says it itself with its rate."""

    name = "llamacpp"


def req(text: str, user: str) -> ChatRequest:
    return ChatRequest(platform="qq", user_id=user, text=text, display_name=user)


def said(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


async def test_a_long_prompt_past_its_deadline_says_which_settings_would_answer_it(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A long QQ message on a slow CPU: the busy line, as
    before, and for the operator one line naming the prompt's size, the window and the
    deadline (not only "no answer within 120 s"); its retries log no second hint."""
    echo_settings.worker.request_timeout_seconds = 0.3
    async with await ChatService.open(echo_settings, engine=NeverDoneEcho()) as service:
        with caplog.at_level(logging.WARNING, logger="model.service"):
            first = await service.chat(req("长" * 8000, "bigguy"))
            again = await service.chat(req("长" * 8000, "bigguy"))
    assert first.status == again.status == "busy"
    assert first.text == service.lines.busy
    assert len(said(caplog, "no answer within 0.3 s")) == 2  # each request's line stays
    (hint,) = said(caplog, HINT)
    tokens = int(hint.split("-token prompt")[0].split()[-1].replace(",", ""))
    assert 1000 < tokens < 4000  # the fitted prompt's, not the 8,000 characters sent
    assert "lower [model] context_window (now 4000" in hint
    assert "raise request_timeout_seconds" in hint


async def test_a_short_prompt_past_its_deadline_gets_no_window_hint(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A short message that waited out its deadline (a stuck engine, a long queue, a
    small CPU writing the reply): a smaller window would not have answered it, so the log
    does not say so; it names the reply's cap and the deadline (s73: a first user on a
    loaded machine got busy lines and no hint at all)."""
    echo_settings.worker.request_timeout_seconds = 0.3
    async with await ChatService.open(echo_settings, engine=NeverDoneEcho()) as service:
        with caplog.at_level(logging.WARNING, logger="model.service"):
            reply = await service.chat(req("hi", "u1"))
    assert reply.status == "busy"
    (hint,) = said(caplog, HINT)
    assert said(caplog, "no answer within 0.3 s") and "context_window" not in hint
    assert "lower [generation] max_new_tokens" in hint and "raise request_timeout" in hint


async def test_the_llamacpp_engine_is_left_to_say_it_itself(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    echo_settings.worker.request_timeout_seconds = 0.3
    async with await ChatService.open(echo_settings, engine=ReadsOnLlamaCpp()) as service:
        with caplog.at_level(logging.WARNING, logger="model.service"):
            reply = await service.chat(req("长" * 8000, "bigguy"))
    assert reply.status == "busy" and not said(caplog, HINT)


@pytest.mark.parametrize("engine", [OneBatchAtATime, StepEngine])
async def test_a_failed_summary_batch_is_left_to_its_caller_to_log(
    engine: type[OneBatchAtATime], caplog: pytest.LogCaptureFixture
) -> None:
    """A failing summariser (model/summaries.py logs its failures, rate-limited) logged a
    traceback from the batcher for every batch too; a reply batch's still is."""
    stand_in = engine()
    async with started(stand_in, 4, 0.0, 8) as batcher:
        with caplog.at_level(logging.ERROR, logger="model.batching"):
            summary = asyncio.create_task(
                batcher.submit_low(msg("fail summary"), GenerationSettings())
            )
            stand_in.release["fail summary"].set()
            with pytest.raises(RuntimeError, match="broke on fail summary"):
                await asyncio.wait_for(summary, 3)
            assert not said(caplog, "generation failed")
            reply = spawn(batcher, "fail reply")
            stand_in.release["fail reply"].set()
            with pytest.raises(RuntimeError, match="broke on fail reply"):
                await asyncio.wait_for(reply, 3)
    (failure,) = [r for r in caplog.records if "generation failed" in r.getMessage()]
    assert failure.exc_info is not None

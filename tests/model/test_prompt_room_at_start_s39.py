"""A worker whose character prompt leaves no room in its context window says so at start."""

from __future__ import annotations

import logging

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.service import ChatService


async def test_a_card_too_long_for_the_window_is_said_at_start(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """It started as if all were well; the operator learnt of it only from the first
    person's chat (her error line), and the sentence in the log then."""
    engine = EchoEngine()
    engine.context_window = 64  # the card alone is over a thousand tokens
    with caplog.at_level(logging.ERROR, logger="model.service"):
        async with await ChatService.open(echo_settings, engine=engine):
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(said) == 1
    assert said[0].startswith("This worker's character prompt takes ")
    assert "64-token context window" in said[0]
    assert said[0].endswith("Until then every chat gets her error line.")


async def test_a_card_that_fits_says_nothing(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="model.service"):
        async with await ChatService.open(echo_settings, engine=EchoEngine()):
            pass
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

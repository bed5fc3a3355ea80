"""Session 67: SIGTERM to `atri worker` while it wrote a reply logged nothing for the
minute and a half uvicorn waited for that reply (it says so at INFO, below the worker's
level): an operator saw a process ignore `kill`. The first stop signal now says it."""

from __future__ import annotations

import logging
import signal

import pytest
from fastapi import FastAPI

from atri import interrupt
from model.server.app import _server
from model.server.slow_clients import ConnectionLimits


def test_the_first_stop_signal_says_the_replies_in_flight_are_finished_first(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interrupt, "_stop_signals", [])  # noted by the signal: this test's
    server = _server(FastAPI(), ConnectionLimits())
    with caplog.at_level(logging.WARNING, logger="model.server.app"):
        server.handle_exit(signal.SIGTERM, None)
        server.handle_exit(signal.SIGTERM, None)  # said once
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "Stopping: the replies being written are finished first (up to [worker] "
        "request_timeout_seconds); Ctrl-C or SIGTERM again stops at once."
    ]
    assert interrupt.stop_line() == interrupt.TERMINATED  # `atri worker` says it at the end
    assert server.should_exit and not server.force_exit
    server.handle_exit(signal.SIGINT, None)
    assert server.force_exit  # uvicorn's second Ctrl-C, as the line says

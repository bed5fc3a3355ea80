"""Session 67: log lines to a file or journal gave local times without their offset: they
ran backwards when summer time ended (02:30, then 02:10 an hour later), and could not be
set beside version names and /status, which are in UTC."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from atri import cli


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def logged_at(utc_seconds: float) -> str:
    handler = cli._log_handler()
    record = logging.LogRecord("atri", logging.INFO, __file__, 1, "reloaded", None, None)
    record.created = utc_seconds
    assert handler.formatter is not None
    return handler.formatter.format(record)


def test_log_times_carry_their_offset_across_the_end_of_summer_time(berlin: None) -> None:
    assert not cli.err_console.on_terminal  # a pipe, as under systemd: the plain lines
    end_of_summer = 1792888200.0  # 2026-10-25 00:30 UTC, 02:30 in Berlin (CEST)
    before = logged_at(end_of_summer)
    after = logged_at(end_of_summer + 40 * 60)  # 01:10 UTC, 02:10 in Berlin (CET)
    assert before.startswith("2026-10-25 02:30:00+0200 INFO")
    assert after.startswith("2026-10-25 02:10:00+0100 INFO")

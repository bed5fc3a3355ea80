"""NoneBot's lines under `atri serve` went to standard output in NoneBot's own format (no
year, no UTC offset): with `>out.log 2>err.log` the OneBot token warning README tells
people to look for landed apart from ATRI's lines, and the two could not be put in time
order. They go to standard error, dated as ATRI's lines are."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator

import pytest
from nonebot.log import default_filter, default_format, logger

from bot.qq.runner import quiet_message_events


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    import nonebot.log

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    quiet_message_events()
    yield out
    logger.remove(nonebot.log.logger_id)
    nonebot.log.logger_id = logger.add(
        sys.__stdout__, level=0, diagnose=False, filter=default_filter, format=default_format
    )


def test_nonebots_lines_go_to_standard_error_dated_as_atris(stderr: io.StringIO) -> None:
    logger.warning("OneBot V11 | Authorization Header is invalid")
    [line] = stderr.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} WARNING  nonebot \| "
        r"OneBot V11 \| Authorization Header is invalid",
        line,
    ), line

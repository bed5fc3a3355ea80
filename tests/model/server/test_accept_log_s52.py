"""Out of descriptors, asyncio logged "socket.accept() out of system resource" with a
full traceback for every failed accept (one run: about 22,000 blocks). The worker's
filter lets it through once a minute, one line with the count not shown; other asyncio
messages pass untouched."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator

import pytest

from model.server.accept_log import ACCEPT_FAILED, AcceptFailureFilter, quiet_accept_failures


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _accept_failure() -> logging.LogRecord:
    """The record asyncio's default exception handler logs for a failed accept."""
    try:
        raise OSError(errno.EMFILE, "Too many open files")
    except OSError as exc:
        error = exc
    return logging.LogRecord(
        "asyncio",
        logging.ERROR,
        __file__,
        1,
        f"{ACCEPT_FAILED}\nsocket: <asyncio.TransportSocket fd=7>",
        (),
        (OSError, error, error.__traceback__),
    )


def _other(message: str = "Task exception was never retrieved") -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        error = exc
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, message, (), (ValueError, error, None)
    )


def test_one_accept_failure_a_minute_passes_as_one_line_with_the_count() -> None:
    clock = Clock()
    kept = AcceptFailureFilter(clock=clock)
    first = _accept_failure()
    assert kept.filter(first)
    assert first.exc_info is None and first.exc_text is None  # no traceback
    assert first.getMessage().startswith(f"{ACCEPT_FAILED}: [Errno 24] Too many open files")
    assert "\n" not in first.getMessage() and "not shown" not in first.getMessage()
    for _ in range(500):
        clock.now += 0.1
        assert not kept.filter(_accept_failure())
    clock.now = 1000.0 + 60
    again = _accept_failure()
    assert kept.filter(again)
    assert "500 more like it not shown" in again.getMessage()
    assert again.exc_info is None
    clock.now += 1
    assert not kept.filter(_accept_failure())
    clock.now += 60
    third = _accept_failure()
    assert kept.filter(third) and "1 more like it not shown" in third.getMessage()


def test_other_asyncio_messages_pass_untouched() -> None:
    clock = Clock()
    kept = AcceptFailureFilter(clock=clock)
    assert kept.filter(_accept_failure())
    for record in (_other(), _other("Unclosed connection"), _other()):
        exc_info, msg = record.exc_info, record.msg
        assert kept.filter(record)
        assert (record.exc_info, record.msg) == (exc_info, msg)


@pytest.fixture
def asyncio_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("asyncio")
    before = list(logger.filters)
    yield logger
    logger.filters[:] = before


def test_the_filter_on_the_asyncio_logger_quiets_the_loops_own_log(
    asyncio_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    added = quiet_accept_failures()
    assert quiet_accept_failures() is added  # once only
    assert sum(isinstance(f, AcceptFailureFilter) for f in asyncio_logger.filters) == 1
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(50):
                loop.call_exception_handler(
                    {
                        "message": ACCEPT_FAILED,
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": sock,
                    }
                )
            loop.call_exception_handler({"message": "something else"})
    finally:
        sock.close()
        loop.close()
    shown = [r for r in caplog.records if r.name == "asyncio"]
    assert [r.getMessage().split(":")[0] for r in shown] == [
        "socket.accept() out of system resource",
        "something else",
    ]
    assert shown[0].exc_info is None and "Traceback" not in caplog.text


class _Stop(Exception):
    pass


def test_the_worker_puts_the_filter_on_before_it_serves(
    asyncio_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.server.app as worker_app

    asyncio_logger.filters[:] = [
        f for f in asyncio_logger.filters if not isinstance(f, AcceptFailureFilter)
    ]

    def no_server(*_: object) -> None:
        raise _Stop

    monkeypatch.setattr(worker_app, "_server", no_server)
    with socket.socket() as sock, pytest.raises(_Stop):
        asyncio.run(worker_app.serve_app(worker_app.FastAPI(), sock))
    assert any(isinstance(f, AcceptFailureFilter) for f in asyncio_logger.filters)

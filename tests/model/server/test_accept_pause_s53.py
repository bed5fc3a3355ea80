"""Session 53: out of descriptors, asyncio's accept loop (CPython 3.11, also 3.12.1 and
3.13.0) failed a whole backlog's worth of accepts each turn, each scheduling one more
retry: one worker logged 221,543 failed accepts in a minute, a core spinning. On the
worker's listening socket (`bind_socket`) the accept after such a failure, in the same
turn, finds nothing waiting, so asyncio tries again once a second."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atri.accept_pause import PausingListener

pytest.importorskip("resource")  # no descriptor limit to lower on Windows

CHILD = r"""
import asyncio, json, os, resource, subprocess, sys

from model.server.app import bind_socket

from tests.descriptor_limits import lower_descriptor_limit, take_every_descriptor

lower_descriptor_limit()
CLIENTS = 20
CONNECT = (
    "import socket, sys\n"
    "port = int(sys.argv[1]); sys.stdin.readline()\n"
    f"held = [socket.create_connection(('127.0.0.1', port)) for _ in range({CLIENTS})]\n"
    "print('connected', flush=True); sys.stdin.readline()\n"
)


async def main() -> dict:
    loop = asyncio.get_running_loop()
    failed, accepted = [], []
    loop.set_exception_handler(lambda loop, context: failed.append(context["message"]))

    class Counted(asyncio.Protocol):
        def connection_made(self, transport):
            accepted.append(transport)

    sock = bind_socket("127.0.0.1", 0)
    server = await loop.create_server(Counted, sock=sock, backlog=2048)  # uvicorn's backlog
    port = str(sock.getsockname()[1])
    client = subprocess.Popen(
        [sys.executable, "-c", CONNECT, port], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    await loop.run_in_executor(None, lambda: None)  # its thread started while files open
    taken = take_every_descriptor()
    client.stdin.write(b"go\n")
    client.stdin.flush()
    await loop.run_in_executor(None, client.stdout.readline)  # all waiting to be accepted
    await asyncio.sleep(2.5)
    failed_meanwhile = len(failed)
    for fd in taken:
        os.close(fd)
    await asyncio.sleep(1.5)  # asyncio's next retry: descriptors are free now
    client.stdin.close()
    client.wait()
    server.close()
    return {"failed": failed_meanwhile, "accepted": len(accepted), "messages": sorted(set(failed))}


print(json.dumps(asyncio.run(main())))
"""


def test_out_of_descriptors_the_worker_socket_fails_one_accept_a_second(
    tmp_path: Path,
) -> None:
    """Before: thousands of failed accepts in those 2.5 s (a multiple of the backlog);
    now one at first and one per retry. Once descriptors free up, every connection that
    waited is accepted."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert 1 <= found["failed"] <= 4, found
    assert found["messages"] == ["socket.accept() out of system resource"]
    assert found["accepted"] == 20


class Failing:
    """Stands in for the system call: raises `error` each time, counting the calls."""

    def __init__(self, error: OSError) -> None:
        self.error = error
        self.calls = 0

    def __call__(self) -> tuple[int, object]:
        self.calls += 1
        raise self.error


def listener_failing_with(error: OSError) -> tuple[PausingListener, Failing]:
    sock = PausingListener(socket.AF_INET, socket.SOCK_STREAM)
    failing = Failing(error)
    sock._accept = failing  # type: ignore[method-assign]
    return sock, failing


async def test_after_running_out_the_rest_of_the_turn_finds_nothing_waiting() -> None:
    sock, failing = listener_failing_with(OSError(errno.EMFILE, "Too many open files"))
    with sock:
        with pytest.raises(OSError) as first:
            sock.accept()
        assert first.value.errno == errno.EMFILE
        with pytest.raises(BlockingIOError):  # ends asyncio's accept loop
            sock.accept()
        assert failing.calls == 1
        await asyncio.sleep(0)  # the next turn: accept() is tried again
        with pytest.raises(OSError) as again:
            sock.accept()
        assert again.value.errno == errno.EMFILE and failing.calls == 2


async def test_other_accept_errors_pause_nothing() -> None:
    sock, failing = listener_failing_with(ConnectionAbortedError(errno.ECONNABORTED, "aborted"))
    with sock:
        for _ in range(3):
            with pytest.raises(ConnectionAbortedError):
                sock.accept()
    assert failing.calls == 3


def test_with_no_event_loop_running_nothing_is_paused() -> None:
    """No loop would end the pause: a blocking caller gets each failure as it is."""
    sock, failing = listener_failing_with(OSError(errno.EMFILE, "Too many open files"))
    with sock:
        for _ in range(2):
            with pytest.raises(OSError, match="Too many open files"):
                sock.accept()
    assert failing.calls == 2

"""The Windows code paths of atri/, run here: telling whether a process still runs (the
hidden work files of a run killed outright are removed by the next one), against
stand-ins for Windows' calls; a listening socket's options."""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from atri import files
from atri.listening import bind_listening_socket

STILL_ACTIVE = 259
ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER = 5, 87


class Kernel32:
    """OpenProcess, GetExitCodeProcess and CloseHandle over a table of processes: id ->
    exit code (STILL_ACTIVE while it runs), or None for another user's (access denied)."""

    def __init__(self, processes: dict[int, int | None]) -> None:
        self.processes = processes
        self.open: dict[int, int] = {}  # handle -> process id
        self.last_error = 0
        self.ctrl_c: list[int] = []  # what os.kill(pid, 0) sent

        def open_process(access: int, inherit: bool, pid: int) -> int:
            if pid not in processes:
                self.last_error = ERROR_INVALID_PARAMETER
                return 0
            if processes[pid] is None:
                self.last_error = ERROR_ACCESS_DENIED
                return 0
            handle = 4 * (len(self.open) + 1)
            self.open[handle] = pid
            return handle

        self.OpenProcess: Any = open_process

    def GetExitCodeProcess(self, handle: ctypes.c_void_p, code: Any) -> int:
        code._obj.value = self.processes[self.open[handle.value or 0]]
        return 1

    def CloseHandle(self, handle: ctypes.c_void_p) -> int:
        del self.open[handle.value or 0]
        return 1


@pytest.fixture
def kernel32(monkeypatch: pytest.MonkeyPatch) -> Kernel32:
    """Windows, with processes 100 (running), 200 (exited), 300 (another user's)."""
    kernel = Kernel32({100: STILL_ACTIVE, 200: 0, 300: None})
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, **_: kernel, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel.last_error, raising=False)

    def windows_kill(pid: int, sig: int) -> None:
        if sig == 0:  # CTRL_C_EVENT, which GenerateConsoleCtrlEvent sends whatever `pid` is
            kernel.ctrl_c.append(pid)

    monkeypatch.setattr(os, "kill", windows_kill)
    return kernel


def test_on_windows_a_process_is_asked_for_its_exit_code_not_sent_ctrl_c(
    kernel32: Kernel32,
) -> None:
    # Before: os.kill(pid, 0), which on Windows sends CTRL_C_EVENT (signal 0) to a
    # console process group and succeeds whether the process runs or not.
    assert files.pid_alive(100)  # running
    assert not files.pid_alive(200)  # exited, its handle still held somewhere
    assert not files.pid_alive(400)  # no such process
    assert files.pid_alive(300)  # another user's: running, not ours to query
    assert kernel32.ctrl_c == []
    assert kernel32.open == {}  # every handle closed


def test_on_windows_a_write_removes_only_the_leftovers_of_processes_that_are_gone(
    kernel32: Kernel32, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No flock on Windows: the process id judges there (see atri.files.claimed).
    monkeypatch.setitem(sys.modules, "fcntl", None)
    target = tmp_path / "card.json"
    gone, running = tmp_path / ".card.json.200-ab.tmp", tmp_path / ".card.json.100-cd.tmp"
    gone.write_text("half", encoding="utf-8")
    running.write_text("being written", encoding="utf-8")
    files.write_text_atomic(target, "{}")
    assert target.read_text(encoding="utf-8") == "{}"
    assert not gone.exists() and running.exists()


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_a_listening_socket_reuses_its_address_except_on_windows(
    platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: SO_REUSEADDR everywhere, with which on Windows `atri worker` bound a port
    # another program was listening on instead of saying the port is in use.
    monkeypatch.setattr(sys, "platform", platform)
    sock = bind_listening_socket("127.0.0.1", 0, "worker")
    try:
        reuse = sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        sock.close()
    assert bool(reuse) == (platform != "win32")

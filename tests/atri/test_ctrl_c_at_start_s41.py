"""Ctrl-C while `atri worker`, `serve` and `chat` start, sent as a person sends it: while
Python imports the CLI (pydantic building its schemas), while the command imports what it
serves with, and while the model loads. Each is `Stopped (Ctrl-C).` alone on stderr and
status 130, within seconds.

It was Python's traceback during the CLI's imports (or the line, then death by SIGINT:
CPython marks a KeyboardInterrupt raised inside `exec`, as dataclasses build methods,
unhandled even once caught), a silent 130 during the command's imports, and a silent 130
only once the loading thread had ended during the load (15 s here, minutes for a 7B).

Each Ctrl-C is sent once the process has mapped a library that only that stage loads
(read from /proc, Linux), not after a fixed delay: on a busy machine a delay lands
anywhere, or before Python runs `atri` at all. During the model load that is one the
loading thread maps once torch has loaded (whose libraries load holding the GIL, seconds
on a busy machine), with most of the load still to come.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

from atri.interrupt import INTERRUPTED

REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "COLUMNS": "300",
    "PYTHONPATH": str(REPO),
    "ATRI_ADMIN_TOKEN": "a-token",  # else the worker's stderr starts with a notice
}
# The loading thread holds the GIL in C for a while (torch's libraries load): the
# handler runs once it lets go. Ending with the loading thread took 15 s here.
PROMPTLY = 10.0

# Libraries whose mapping marks a stage: pydantic-core is imported by the CLI's
# settings (their schemas are built right after), numpy by the transformers modules the
# command imports before its event loop runs, torch by the loading thread, and then
# safetensors, as it imports transformers' modelling code, before it reads the model.
CLI_IMPORTS = "_pydantic_core"
COMMAND_IMPORTS = "_multiarray_umath"
TORCH = "torch/_C."
MODEL_LOAD = "_safetensors_rust"

pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc")


def console_script() -> list[str]:
    """What the installed `atri` runs: pip's script calls [project.scripts]' function."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    module, function = scripts["project"]["scripts"]["atri"].split(":")
    return [
        sys.executable,
        "-c",
        f"import sys; from {module} import {function}; sys.exit({function}())",
    ]


def write_config(tmp_path: Path, base: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{base}"\nengine = "local"\n[worker]\nport = 0\n'
        '[memory]\npath = "memory.sqlite3"\n',
        encoding="utf-8",
    )
    return config


def has_mapped(pid: int, library: str) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):  # it ended: the caller says how
        return False


class Stopped(NamedTuple):
    returncode: int
    took: float  # seconds from the Ctrl-C until the process ended
    out: str
    err: str


def ctrl_c(command: list[str], cwd: Path, library: str) -> Stopped:
    """Run `command`; Ctrl-C once it has mapped `library` (and torch before it, for the
    model load: the loading thread's, so the Ctrl-C lands in that stage)."""
    atri = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 120
        for stage in (TORCH, library) if library == MODEL_LOAD else (library,):
            while not has_mapped(atri.pid, stage):
                assert atri.poll() is None, atri.communicate()
                assert time.monotonic() < deadline, f"{stage} was never loaded"
                time.sleep(0.01)
            assert stage == library or not has_mapped(atri.pid, library), "loaded before torch"
        sent = time.monotonic()
        atri.send_signal(signal.SIGINT)
        out, err = atri.communicate(timeout=120)
        return Stopped(atri.returncode, time.monotonic() - sent, out, err)
    finally:
        if atri.poll() is None:
            atri.kill()
            atri.communicate()


def assert_stopped_at_once(stopped: Stopped) -> None:
    # The log's line that the memory database was made (before the model loads) may
    # come first; nothing else but the sentence.
    said = [line for line in stopped.err.splitlines() if "New memory database" not in line]
    assert (stopped.returncode, said) == (130, [INTERRUPTED]), stopped.err
    assert "listening on" not in stopped.out
    assert stopped.took < PROMPTLY, f"{stopped.took:.1f} s after Ctrl-C"


def atri(*args: str) -> list[str]:
    return [sys.executable, "-m", "atri", *args]


@pytest.mark.parametrize(
    "library",
    [CLI_IMPORTS, COMMAND_IMPORTS, MODEL_LOAD],
    ids=["cli-imports", "command-imports", "model-load"],
)
def test_ctrl_c_while_the_worker_starts(tmp_path: Path, tiny_model_dir: Path, library: str) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    assert_stopped_at_once(ctrl_c(atri("-c", str(config), "worker"), tmp_path, library))


def test_ctrl_c_while_the_installed_command_imports(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The console script runs `atri` as a script, not as `-m`: the same from its first line."""
    config = write_config(tmp_path, tiny_model_dir)
    command = [*console_script(), "-c", str(config), "worker"]
    assert_stopped_at_once(ctrl_c(command, tmp_path, CLI_IMPORTS))


@pytest.mark.parametrize("command", ["chat", "serve"])
def test_ctrl_c_while_the_console_chat_loads_the_model(
    tmp_path: Path, tiny_model_dir: Path, command: str
) -> None:
    """`atri serve` with no bot configured is the console chat, started its own way."""
    config = write_config(tmp_path, tiny_model_dir)
    assert_stopped_at_once(ctrl_c(atri("-c", str(config), command), tmp_path, MODEL_LOAD))

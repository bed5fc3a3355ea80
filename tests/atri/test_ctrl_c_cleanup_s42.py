"""Ctrl-C in a command that cleans up (`atri eval --recall`, `prep`, `train`, `eval`), sent
to a real `atri` process: `Stopped (Ctrl-C).`, status 130, and the command's own cleanup
done.

`atri eval --recall` left its scratch folder (the recall database) behind: once the task
was cancelled, an idle worker of the event loop's thread pool counted as a thread that
would hold the exit, so the process ended at once, skipping the `with` that removes it.

`python -m atri prep`, `train` and `eval` ended by SIGINT (status -2 to the caller) when
the KeyboardInterrupt was raised in code that `exec` ran (dataclasses build their methods
so while a command imports what it needs): CPython marks such an interrupt unhandled even
once it is caught, and `-m` kills itself by SIGINT at exit (the installed script's exit
does not look). By chance that was 3 Ctrl-C in 20 during `atri train`'s imports here;
`SITECUSTOMIZE` below sends it there every time.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atri.interrupt import INTERRUPTED
from tests.atri.test_ctrl_c_at_start_s41 import ENV, atri, console_script

ECHO_CONFIG = '[model]\nengine = "echo"\n[memory]\npath = "memory.sqlite3"\n'

# Imported by the `atri` process at start (site imports a `sitecustomize` it finds on
# the path): the first time code that `exec` made starts once a command runs with Ctrl-C
# as KeyboardInterrupt, it sends SIGINT to its own process, so the interrupt is raised
# right there, as a Ctrl-C landing while a dataclass is built raises it.
SITECUSTOMIZE = """
import os, signal, sys

_sent = []

def _ctrl_c_inside_exec(event, args):
    if event != "exec" or args[0].co_filename != "<string>" or _sent:
        return
    if "atri.cli" not in sys.modules:  # not yet running `atri`: Python's own imports
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # not inside a command's keyboard_interrupt()
    made = args[0]
    _sent.append(made)

    def at_its_start(frame, event, arg):
        if frame.f_code is made:
            sys.settrace(None)
            open(os.environ["SENT_MARK"], "w").close()
            os.kill(os.getpid(), signal.SIGINT)

    sys.settrace(at_its_start)

sys.addaudithook(_ctrl_c_inside_exec)
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_stopped(returncode: int, err: str) -> None:
    assert (returncode, err.splitlines()) == (130, [INTERRUPTED]), (returncode, err)


def messages_stored(scratch: Path) -> bool:
    """Whether the recall run has stored an exchange in its scratch database yet."""
    for database in scratch.glob("*/recall.sqlite3"):
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
                return bool(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.Error:  # not created yet
            return False
    return False


def test_ctrl_c_in_eval_recall_removes_its_scratch_folder(tmp_path: Path) -> None:
    """Sent once the recall probes are talking (the loop's thread pool has fitted prompts):
    its workers sit idle, and nothing else would hold the exit."""
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = atri("eval", "--recall", "--recall-filler", "100000")
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**ENV, "TMPDIR": str(scratch)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not messages_stored(scratch):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the recall probes never started"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert_stopped(process.returncode, err)
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("launcher", ["python -m atri", "console script"])
@pytest.mark.parametrize(
    "arguments", [["prep", "script.txt"], ["train"], ["eval"]], ids=["prep", "train", "eval"]
)
def test_ctrl_c_inside_exec_made_code_is_status_130(
    tmp_path: Path, launcher: str, arguments: list[str]
) -> None:
    (tmp_path / "config.toml").write_text(ECHO_CONFIG, encoding="utf-8")
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    sent = tmp_path / "sent"
    env = {**ENV, "PYTHONPATH": f"{harness}{os.pathsep}{ENV['PYTHONPATH']}", "SENT_MARK": str(sent)}
    start = atri() if launcher == "python -m atri" else console_script()
    done = run([*start, *arguments], tmp_path, env)
    assert sent.exists(), "the interrupt was never sent: no exec'd code ran in the command"
    assert_stopped(done.returncode, done.stderr)


def test_the_entry_point_imports_only_its_ctrl_c_handler_first(tmp_path: Path) -> None:
    """Until `main` puts the handler in place, Ctrl-C is Python's traceback: `atri` imports
    nothing else before it. It imported signal (and so enum), typing (and re), threading
    and contextlib: 26 ms from Python's own handler to atri's became 5 (medians, strace,
    `python -S` on a loaded 2-core machine)."""
    code = (
        "import os, sys; before = set(sys.modules); import atri.__main__; "
        "print(*sorted(set(sys.modules) - before))"
    )
    # -S: without site's own imports, which a Python of another install may not make.
    done = run([sys.executable, "-S", "-c", code], tmp_path, ENV)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) <= {"__future__", "atri", "atri.__main__", "atri.interrupt"}

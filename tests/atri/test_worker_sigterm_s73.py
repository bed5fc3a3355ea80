"""Session 73 (README replay): SIGTERM to `atri worker` ended it with status 0 and no
`Stopped (SIGTERM).` line, which the README promises and `atri serve` says: uvicorn takes
the signals while the worker serves, so the command never heard one. Its one line also
said "Ctrl-C again stops at once" to a systemd journal. Now it is said as serve says it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from atri.interrupt import INTERRUPTED, TERMINATED
from tests.atri.test_ctrl_c_at_start_s41 import atri
from tests.atri.test_ctrl_c_cleanup_s42 import ECHO_CONFIG
from tests.atri.test_sigterm_s70 import started, wait_for
from tests.bot.qq.test_serve_e2e import _free_port


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [(signal.SIGTERM, 0, TERMINATED), (signal.SIGINT, 130, INTERRUPTED)],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_stopped_worker_says_which_signal_stopped_it(
    tmp_path: Path, signum: int, status: int, line: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"{ECHO_CONFIG}[worker]\nport = {_free_port()}\n", encoding="utf-8")
    log = tmp_path / "worker.log"
    worker = started(atri("-c", str(config), "worker"), tmp_path, log)
    wait_for(worker, log, "http://127.0.0.1:")
    worker.send_signal(signum)
    try:
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    assert (worker.returncode, lines[-1:]) == (status, [line]), lines
    assert any("Ctrl-C or SIGTERM again stops at once" in said for said in lines), lines
    assert not any("Traceback" in said for said in lines), lines

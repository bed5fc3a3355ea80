"""Session 41: the staging folder of an `atri prep` killed while moving its files in is
undone by the next run even when the killed run's process id now names another running
process: it is judged by the lock its run held, not by the id in its name."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from tests.dataprep.conftest import FIXTURES
from tests.dataprep.test_killed_runs import earlier, hidden_beside, stopped_run  # noqa: F401
from tests.dataprep.test_run_outcomes import make_empty, prep, snapshot


def test_a_killed_run_whose_id_was_given_to_another_process_is_undone(
    tmp_path: Path,
    earlier: Path,  # noqa: F811
) -> None:
    """Before: the id read "running" (here: this process's own), and `out` stayed half
    moved in, lacking the earlier files, for as long as that other process ran."""
    before = snapshot(earlier)
    killed = stopped_run(earlier, "KILL", "aside")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [staging] = [p for p in earlier.parent.iterdir() if p.name.startswith(".dataset.tmp-")]
    reused = staging.with_name(re.sub(r"tmp-\d+-", f"tmp-{os.getpid()}-", staging.name))
    staging.rename(reused)

    code, _ = prep(tmp_path, [make_empty(tmp_path)], earlier)  # a run that writes nothing
    assert code == 1
    assert snapshot(earlier) == before
    assert hidden_beside(earlier) == []
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], earlier)
    assert code == 0

"""Session 67: a plain `kill` (SIGTERM, as systemd and `docker stop` send) of `atri prep`
while it moved its files in ended Python at once: the dataset folder was left half
replaced (its data files in a hidden staging folder, dataset_info.json naming files that
were gone) until a next `atri prep`. It now unwinds as Ctrl-C does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataprep.test_killed_runs import earlier, hidden_beside, stopped_run  # noqa: F401
from tests.dataprep.test_run_outcomes import snapshot


@pytest.mark.parametrize("point", ["aside", "placing", "last"])
def test_sigterm_while_moving_in_puts_the_earlier_files_back(earlier: Path, point: str) -> None:  # noqa: F811
    before = snapshot(earlier)
    stopped = stopped_run(earlier, "TERM", point)
    assert stopped.returncode not in (0, -15), stopped.stderr  # unwound, not killed outright
    assert "KeyboardInterrupt" in stopped.stderr
    assert snapshot(earlier) == before
    assert hidden_beside(earlier) == []

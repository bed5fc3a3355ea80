"""`atri prep` stopped by a signal while it moves its files in: Ctrl-C puts the earlier
files back at once; a SIGKILL (no cleanup at all) is undone by the next run before it
reads or writes anything. Either way the earlier dataset comes back byte for byte, other
datasets' entries in dataset_info.json included, and the next run works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dataprep.conftest import FIXTURES
from tests.dataprep.test_run_outcomes import make_empty, prep, snapshot

REPO = Path(__file__).resolve().parents[2]


def stopped_run(out: Path, signame: str, point: str) -> subprocess.CompletedProcess[str]:
    script = str(FIXTURES / "plain_zh.txt")
    return subprocess.run(
        [sys.executable, "-m", "tests.dataprep.killed_prep", str(out), script, signame, point],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )


def hidden_beside(out: Path) -> list[str]:
    return [p.name for p in out.parent.iterdir() if p.name.startswith(".")]


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "dataset"
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    info["eileen"] = {"file_name": "eileen_sharegpt.json"}  # another character's dataset
    (out / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    return out


@pytest.mark.parametrize("point", ["aside", "placing", "last"])
def test_a_run_killed_while_moving_in_is_undone_by_the_next_run(
    tmp_path: Path, earlier: Path, point: str
) -> None:
    # Before: the files moved aside stayed in a hidden staging folder forever, `out`
    # held some new files and lacked earlier ones (dataset_info.json among them, so the
    # next run dropped every other dataset's entry).
    before = snapshot(earlier)
    killed = stopped_run(earlier, "KILL", point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert snapshot(earlier) != before  # the kill did land half way

    code, _ = prep(tmp_path, [make_empty(tmp_path)], earlier)  # a run that writes nothing
    assert code == 1
    assert snapshot(earlier) == before
    assert hidden_beside(earlier) == []

    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], earlier)
    assert code == 0
    info = json.loads((earlier / "dataset_info.json").read_text(encoding="utf-8"))
    assert "eileen" in info and hidden_beside(earlier) == []


def test_ctrl_c_while_moving_in_puts_the_earlier_files_back(earlier: Path) -> None:
    # Before: KeyboardInterrupt is no OSError, so nothing was put back and the staging
    # folder, the earlier files inside it, was deleted.
    before = snapshot(earlier)
    stopped = stopped_run(earlier, "INT", "placing")
    assert stopped.returncode != 0 and "KeyboardInterrupt" in stopped.stderr
    assert snapshot(earlier) == before
    assert hidden_beside(earlier) == []


def test_ctrl_c_once_the_new_files_are_in_place_finishes_the_run(earlier: Path) -> None:
    # Before: a Ctrl-C while the earlier files were deleted (after the last move) said
    # "Stopped" with status 130, while the new files were in place, some earlier ones
    # deleted, and the rest left in a hidden folder the next run deleted.
    before = snapshot(earlier)
    late = stopped_run(earlier, "INT", "deleting")
    assert late.returncode == 0, late.stderr
    assert "FINISHED" in late.stdout
    assert "Ctrl-C came after the new files were in place" in late.stdout
    after = snapshot(earlier)
    assert after != before and set(after) == set(before)
    assert hidden_beside(earlier) == []


def test_ctrl_c_as_the_last_file_moves_in_still_puts_the_earlier_files_back(
    earlier: Path,
) -> None:
    before = snapshot(earlier)
    stopped = stopped_run(earlier, "INT", "last")
    assert stopped.returncode != 0 and "KeyboardInterrupt" in stopped.stderr
    assert snapshot(earlier) == before
    assert hidden_beside(earlier) == []

"""`atri prep` where there is no fcntl (Windows): it imports, runs, and two runs into one
folder still move their files in one at a time (msvcrt's lock instead of flock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atri.locks import exclusive_folder
from tests.dataprep.conftest import FIXTURES
from tests.windows_like import AS_WINDOWS, msvcrt_module

REPO = Path(__file__).resolve().parents[2]
EILEEN = FIXTURES / "eileen"
# A child process as on Windows: no fcntl, msvcrt's locking.


def windows_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", AS_WINDOWS + code, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_atri_prep_runs_where_there_is_no_fcntl(tmp_path: Path) -> None:
    # Before: dataprep/output_folder.py imported fcntl at its top, and `atri prep`
    # stopped at that import on Windows.
    out = tmp_path / "data"
    code = "from atri.cli import app; app(sys.argv[1:])"
    run = windows_child(
        f"import sys; {code}", "prep", str(FIXTURES / "plain_zh.txt"), "-o", str(out)
    )
    said, _ = run.communicate(timeout=120)
    assert run.returncode == 0, said
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert (out / info["atri"]["file_name"]).is_file()
    assert (tmp_path / ".data.lock").is_file()  # msvcrt's lock file, left beside


def test_without_fcntl_a_run_moves_its_files_in_only_after_the_one_moving_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", msvcrt_module())
    out = tmp_path / "data"
    out.mkdir()
    code = (
        "import sys; from pathlib import Path; from atri.config import DataprepSettings;"
        "from dataprep.pipeline import prepare;"
        "prepare(DataprepSettings(lead_aliases=['Max'], character_aliases=['Eileen']),"
        " [Path(sys.argv[1])], Path(sys.argv[2]), system_prompt='You are Eileen.')"
    )
    with exclusive_folder(out):  # the lock `atri prep` moves files in under
        run = windows_child(code, str(EILEEN / "script.rpy"), str(out))
        try:
            deadline = time.monotonic() + 60
            # Its stats.png is the last file it stages; then it would move them in.
            while not list(tmp_path.glob(".data.tmp-*/eileen_stats.png")):
                assert run.poll() is None, run.communicate()[0]
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(2)  # drawn in full by now: only the lock holds the run back
            assert run.poll() is None
            assert not list(out.iterdir())
        except BaseException:
            run.kill()
            raise
    said, _ = run.communicate(timeout=60)
    assert run.returncode == 0, said
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"eileen", "eileen_eval"} <= set(info)

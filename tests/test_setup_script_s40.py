"""scripts/setup.sh on a system without GNU coreutils' sha256sum and nproc (macOS): it
installs, and a second run installs nothing. pip is a stand-in here that only writes
down what it was asked (no package is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the script may find on PATH: no sha256sum, no nproc.
TOOLS = ("dirname", "cat", "cut")

FAKE_PYTHON = """#!/bin/sh
echo "$* | CMAKE_BUILD_PARALLEL_LEVEL=$CMAKE_BUILD_PARALLEL_LEVEL" >> "$(dirname "$0")/../calls"
"""


def run_setup(root: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(root / "scripts" / "setup.sh")],
        env={"PATH": str(bin_dir), "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_setup_runs_without_sha256sum_and_nproc(tmp_path: Path) -> None:
    # Before: `sha256sum` (and `nproc` for the build) were called, which macOS lacks.
    root = tmp_path / "atri"
    (root / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt", "scripts/setup.sh"):
        shutil.copy(REPO / name, root / name)
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(FAKE_PYTHON)
    (venv_bin / "python").chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool) or "", bin_dir / tool)
    os.symlink(sys.executable, bin_dir / "python3")

    first = run_setup(root, bin_dir)
    assert first.returncode == 0, first.stderr
    calls = (root / ".venv" / "calls").read_text().splitlines()
    (install,) = [call for call in calls if "-e .[dev]" in call]
    # Builds on every core it may use.
    assert install.endswith(f"CMAKE_BUILD_PARALLEL_LEVEL={len(os.sched_getaffinity(0))}")
    assert (root / ".venv" / ".atri-installed").is_file()

    again = run_setup(root, bin_dir)
    assert again.returncode == 0, again.stderr
    # Nothing installed (the script's own look at the venv's Python aside).
    installs = [call for call in calls if "-m pip" in call]
    called = (root / ".venv" / "calls").read_text().splitlines()
    assert [call for call in called if "-m pip" in call] == installs

"""scripts/setup.sh on a system without GNU coreutils' sha256sum and nproc (macOS): it
installs, and a second run installs nothing; and it installs ATRI without setuptools' boxed
"Editable installation" notice, which pip shows past -q (it warns of folders named like the
package: here they are the package). pip is a stand-in here that only writes down what it
was asked (no package is installed)."""

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
echo "$* | CMAKE_BUILD_PARALLEL_LEVEL=$CMAKE_BUILD_PARALLEL_LEVEL | PYTHONWARNINGS=$PYTHONWARNINGS" \\
  >> "$(dirname "$0")/../calls"
"""

# setuptools' own notice, emitted as its editable build does.
NOTICE = """\
from setuptools.warnings import InformationOnly
InformationOnly.emit("Editable installation.", "Please be careful with folders.")
"""


def run_setup(root: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(root / "scripts" / "setup.sh")],
        env={"PATH": str(bin_dir), "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def checkout_with_fake_pip(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of what setup.sh reads, a venv whose Python writes down its calls, and a
    PATH folder with only `TOOLS` and python3: (the copy, the PATH folder)."""
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
    return root, bin_dir


def test_setup_runs_without_sha256sum_and_nproc(tmp_path: Path) -> None:
    # Before: `sha256sum` (and `nproc` for the build) were called, which macOS lacks.
    root, bin_dir = checkout_with_fake_pip(tmp_path)
    first = run_setup(root, bin_dir)
    assert first.returncode == 0, first.stderr
    calls = (root / ".venv" / "calls").read_text().splitlines()
    (install,) = [call for call in calls if "-e .[dev]" in call]
    # Builds on every core it may use.
    assert f"CMAKE_BUILD_PARALLEL_LEVEL={len(os.sched_getaffinity(0))} |" in install
    assert (root / ".venv" / ".atri-installed").is_file()

    again = run_setup(root, bin_dir)
    assert again.returncode == 0, again.stderr
    # Nothing installed (the script's own look at the venv's Python aside).
    installs = [call for call in calls if "-m pip" in call]
    called = (root / ".venv" / "calls").read_text().splitlines()
    assert [call for call in called if "-m pip" in call] == installs


def pip_installs(tmp_path: Path) -> list[str]:
    root, bin_dir = checkout_with_fake_pip(tmp_path)
    done = run_setup(root, bin_dir)
    assert done.returncode == 0, done.stderr
    calls = (root / ".venv" / "calls").read_text().splitlines()
    return [call for call in calls if "-m pip" in call and " install " in call]


def notice_shown(warning_filter: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if warning_filter:
        env["PYTHONWARNINGS"] = warning_filter
    return subprocess.run(
        [sys.executable, "-c", NOTICE], env=env, capture_output=True, text=True, timeout=60
    ).stderr


def test_the_editable_install_hides_setuptools_notice(tmp_path: Path) -> None:
    (install,) = [call for call in pip_installs(tmp_path) if "-e .[dev]" in call]
    warning_filter = install.rsplit("PYTHONWARNINGS=", 1)[1]
    assert "Editable installation" in notice_shown("")  # the notice, unfiltered
    assert notice_shown(warning_filter) == ""


def test_other_installs_keep_their_warnings(tmp_path: Path) -> None:
    # Only the editable install is filtered: torch's and the model's warnings still show.
    others = [call for call in pip_installs(tmp_path) if "-e .[dev]" not in call]
    assert others and all(call.endswith("PYTHONWARNINGS=") for call in others)

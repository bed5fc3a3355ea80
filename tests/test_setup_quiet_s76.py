"""scripts/setup.sh installs ATRI without setuptools' boxed "Editable installation" notice,
which pip shows past -q (it warns of folders named like the package: here they are the
package). pip is a stand-in that writes down the warning filter it was given; the filter is
then tried on setuptools' own notice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
echo "$* | PYTHONWARNINGS=$PYTHONWARNINGS" >> "$(dirname "$0")/../calls"
"""

NOTICE = """\
from setuptools.warnings import InformationOnly
InformationOnly.emit("Editable installation.", "Please be careful with folders.")
"""


def filter_given_to_editable_install(tmp_path: Path) -> str:
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
    for tool in ("dirname", "cat"):
        os.symlink(shutil.which(tool) or "", bin_dir / tool)
    os.symlink(sys.executable, bin_dir / "python3")
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(root / "scripts" / "setup.sh")],
        env={"PATH": str(bin_dir), "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    calls = (root / ".venv" / "calls").read_text().splitlines()
    (install,) = [call for call in calls if "-e .[dev]" in call]
    return install.rsplit("PYTHONWARNINGS=", 1)[1]


def notice_shown(warning_filter: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if warning_filter:
        env["PYTHONWARNINGS"] = warning_filter
    return subprocess.run(
        [sys.executable, "-c", NOTICE], env=env, capture_output=True, text=True, timeout=60
    ).stderr


def test_the_editable_install_hides_setuptools_notice(tmp_path: Path) -> None:
    warning_filter = filter_given_to_editable_install(tmp_path)
    assert "Editable installation" in notice_shown("")  # the notice, unfiltered
    assert notice_shown(warning_filter) == ""


def test_other_installs_keep_their_warnings(tmp_path: Path) -> None:
    # Only the editable install is filtered: torch's and the model's warnings still show.
    filter_given_to_editable_install(tmp_path)
    calls = (tmp_path / "atri" / ".venv" / "calls").read_text().splitlines()
    others = [
        call
        for call in calls
        if "-m pip" in call and " install " in call and "-e .[dev]" not in call
    ]
    assert others and all(call.endswith("PYTHONWARNINGS=") for call in others)

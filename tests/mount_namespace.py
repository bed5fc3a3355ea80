"""Run a shell script in a mount namespace of its own (`unshare -rm`): a test can mount a
small tmpfs (a full disk, a second disk) without privileges, and nothing stays mounted.
Where namespaces or mounts are refused, the test is skipped saying which."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# The exit code a script's first line (its mount) gives when the mount fails.
MOUNT_FAILED = 97


def run_in_mount_namespace(
    mount: str, commands: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mount` (shell), then `commands`, in a mount namespace of their own."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare here")
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("user and mount namespaces are not allowed here")
    script = "\n".join([f"{mount} || exit {MOUNT_FAILED}", *commands])
    run = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    if run.returncode == MOUNT_FAILED:
        pytest.skip(f"cannot mount here: {run.stderr.strip()}")
    return run

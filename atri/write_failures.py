"""Why a file could not be written, read from what the writer raised: Python's OSError,
Rust's savers (safetensors, tokenizers) and torch's zip writer each say it their way.
Training (a version's files) and the offline model's first conversion (cache_dir) both
turn a full disk into one sentence with it."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

# What torch.save's zip writer says when optimizer.pt could not be written in full.
_TORCH_WRITE_FAILURES = (
    "unexpected pos",
    "PytorchStreamWriter failed writing",
    "file write failed",
)
_RUST_IO_ERROR = re.compile(r"\(os error (\d+)\)")
# What stops a file being written: a full disk or quota, a file too big, no permission,
# a disk gone read-only or failing.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EROFS, errno.EIO}
# Less free space than this under `out` after a failed write: the disk is what is full.
_NEARLY_FULL_BYTES = 16 << 20


def write_failure(exc: BaseException, out: Path) -> str | None:
    """Why a file could not be written, when `exc` says one could not be ("No space left
    on device"); None for any other error, which stays itself."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    # Rust's savers (safetensors' SafetensorError, tokenizers' plain Exception) end with
    # Rust's io::Error: "… No space left on device (os error 28)".
    rust_io = _RUST_IO_ERROR.search(str(exc))
    if rust_io is not None and int(rust_io[1]) in _WRITE_ERRNOS:
        return os.strerror(int(rust_io[1]))
    if isinstance(exc, RuntimeError) and any(s in str(exc) for s in _TORCH_WRITE_FAILURES):
        return _torch_write_reason(out)
    return None


def what_frees_it(reason: str) -> str:
    """What lets the write go through, for the `reason` `write_failure` gave: a file grown
    past a size limit (EFBIG) fails on a disk with room, where "free some space" does
    nothing."""
    if reason == os.strerror(errno.EFBIG):
        return "raise the limit on file size that stopped it (`ulimit -f`, systemd's LimitFSIZE=)"
    return "free some space"


def _torch_write_reason(out: Path) -> str:
    """torch says only that a file was cut short; the space left says whether it was a
    full disk."""
    try:
        nearly_full = shutil.disk_usage(out).free < _NEARLY_FULL_BYTES
    except OSError:
        nearly_full = False
    if nearly_full:
        return os.strerror(errno.ENOSPC)
    return "a file could not be written in full"

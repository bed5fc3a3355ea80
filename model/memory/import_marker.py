"""A marker file beside the memory database while `atri memory import` writes.

An import commits its file a part at a time (`Memory.import_export`), so one killed
outright (SIGKILL, the OOM killer, a power cut) leaves part of the file stored, integrity
intact, and nothing of it can say so. The marker it leaves behind says it instead: at
`atri memory list`, at the next `atri memory import`, and when the worker starts. An
import that ends any way Python sees (done, failed, Ctrl-C) removes its marker: it has
said what it did itself.

One marker per export file (`mem.sqlite3.importing-<hash of its path>.json`), so a killed
import of one file is still named after another file was imported. The import holds a
lock on its marker while it runs (the system lets go of it when the process ends,
however it ends), so a marker of an import running now is never taken for a dead one;
where no lock can be had (Windows, NFS) its process id tells, as `atri.files.claimed`
judges every work file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from atri.files import claimed, owned_prefix, remove_dead_leftovers
from atri.locks import flock_module

MARKER_INFIX = ".importing-"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportMarker:
    """What a marker says of the import that wrote it."""

    file: str  # the export file, absolute
    size: int
    mtime_ns: int
    started_at: float
    pid: int
    rows: int  # rows it planned to write
    command: str  # the command that ran it, to run again

    def sentence(self) -> str:
        """What to tell of a marker whose import was killed."""
        return (
            f"An `atri memory import` of {self.file} started at {local_time(self.started_at)} "
            f"did not finish (the process was killed): run it again to complete it "
            f"(`{self.command}`); what it stored is kept."
        )

    def same_file(self, file: Path) -> bool:
        """Whether `file` is still the file this import read (same size and mtime)."""
        try:
            stat = file.stat()
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def marker_path(database: Path, file: Path) -> Path:
    """The marker of an import of `file` into `database`."""
    digest = hashlib.sha256(str(file.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return database.with_name(f"{database.name}{MARKER_INFIX}{digest[:16]}.json")


def unfinished_imports(database: Path) -> list[ImportMarker]:
    """The imports into `database` that were killed before they ended, oldest first; one
    running now (its marker locked, or where no lock can be had its process alive) is not
    among them."""
    if str(database) == ":memory:":
        return []
    pattern = f"{glob.escape(database.name)}{MARKER_INFIX}*.json"
    found = []
    for path in database.parent.glob(pattern):
        marker = _read(path)
        if marker is None:
            continue
        with claimed(path, marker.pid) as dead:
            if dead:
                found.append(marker)
    return sorted(found, key=lambda m: m.started_at)


def running_import(database: Path, file: Path) -> bool:
    """Whether another process imports `file` into `database` now."""
    path = marker_path(database, file)
    marker = _read(path)
    if marker is None:
        return False
    with claimed(path, marker.pid) as dead:
        return not dead


@contextlib.contextmanager
def marking_import(database: Path, file: Path, command: str) -> Iterator[Callable[[int], None]]:
    """For the `with` block of an import of `file`: a function to call with the rows it
    will write, before its first part, that writes the marker to the disk (a power cut
    after it keeps it). The marker goes when the block ends however Python ends it, and
    with it a killed import's marker of the same file (this one completed it, or said
    what it did). Where another process imports the same file now, its marker is left
    alone and none is written."""
    path = marker_path(database, file)
    if str(database) == ":memory:" or running_import(database, file):
        yield lambda rows: None
        return
    held: list[int] = []

    def start(rows: int) -> None:
        try:
            mark(rows)
        except OSError as exc:  # the import goes on: its own writes say what fails
            log.warning("%s: cannot mark the import (%s); a kill now would go unnamed.", path, exc)

    def mark(rows: int) -> None:
        stat = file.stat()
        marker = ImportMarker(
            str(file.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            time.time(),
            os.getpid(),
            rows,
            command,
        )
        if (fd := _write_locked(path, json.dumps(asdict(marker)))) is not None:
            held.append(fd)
        _sync_folder(path.parent)

    try:
        yield start
    finally:
        path.unlink(missing_ok=True)
        for fd in held:
            os.close(fd)


def _read(path: Path) -> ImportMarker | None:
    """The marker in `path`; None for one that is gone or that ATRI did not write."""
    try:
        return ImportMarker(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _write_locked(path: Path, text: str) -> int | None:
    """Write `path` whole, to the disk, as `atri.files.replacing` does, but locked from
    its first byte to the end of the import: a descriptor holding the lock (as `claimed`
    tests it), so the marker is never seen unlocked while its import runs. (`replacing`
    locks its own temporary, and lets go of that lock once it is renamed.) None where no
    lock can be had: the marker's process id tells then."""
    prefix = f".{path.name}."
    remove_dead_leftovers(path.parent, prefix)
    tmp = path.with_name(f"{owned_prefix(prefix)}{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    held = False
    try:
        fcntl = flock_module()
        if fcntl is not None:
            with contextlib.suppress(OSError):  # NFS: no flock of this descriptor
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
        if not held:  # Windows renames no file held open
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if held:
            os.close(fd)
        raise
    return fd if held else None


def _sync_folder(folder: Path) -> None:
    """Write `folder`'s entries to the disk: the marker's rename survives a power cut.
    Windows cannot open a folder so (its renames reach the disk with the file)."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):  # a file system that refuses it: best effort
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def local_time(seconds: float) -> str:
    """A time as this machine's local date and time, to the second, with its UTC offset."""
    return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")

"""Session 41: a work file or folder is judged by the lock its writer holds, not by the
process id in its name. A leftover whose id now belongs to another running process was
kept for as long as that process ran (the id a killed run had, given to another); a
live writer whose id cannot be seen from here (another container on a shared folder)
had its folder removed under it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from atri.files import owned, owned_prefix, remove_dead_leftovers
from model.adapters.versions import remove_stale_temps
from tests.atri.test_files import dead_pid

REPO = Path(__file__).resolve().parents[2]


def _by_files(folder: Path, pid: int) -> tuple[Path, Callable[[], list[Path]]]:
    return folder / f".convert-{pid}-abc", lambda: remove_dead_leftovers(folder, ".convert-")


def _by_versions(folder: Path, pid: int) -> tuple[Path, Callable[[], list[Path]]]:
    return folder / f".tmp-20260101-120000-0123abcd-{pid}", lambda: remove_stale_temps(folder)


JUDGES = pytest.mark.parametrize("judge", [_by_files, _by_versions], ids=["files", "versions"])


@JUDGES
def test_a_leftover_named_for_a_running_process_that_does_not_hold_it_is_removed(
    tmp_path: Path, judge: Callable[[Path, int], tuple[Path, Callable[[], list[Path]]]]
) -> None:
    """The killed run's id now names another process (this one, here): the leftover
    stayed as long as that process ran, a whole model's size for `.convert-`."""
    leftover, remove = judge(tmp_path, os.getpid())
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"x" * 100)

    assert remove() == [leftover]
    assert not leftover.exists()


@JUDGES
def test_a_live_writer_whose_id_is_not_seen_here_keeps_its_folder(
    tmp_path: Path, judge: Callable[[Path, int], tuple[Path, Callable[[], list[Path]]]]
) -> None:
    """A writer in another container names itself by an id that is nobody's here: the
    id said "dead", and its folder went while it wrote. Its lock says "running"."""
    folder, remove = judge(tmp_path, dead_pid())
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from atri.files import owned\n"
            "def make():\n"
            "    Path(sys.argv[1]).mkdir()\n"
            "    return Path(sys.argv[1])\n"
            "with owned(make):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.read()\n",
            str(folder),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "held\n"
        assert remove() == []
        assert folder.is_dir()
    finally:
        writer.communicate("")  # it ends, and its lock with it
    assert remove() == [folder]


def test_a_work_folder_taken_by_a_judge_as_it_was_made_is_made_again(tmp_path: Path) -> None:
    """Another process's judge may find the folder in the instant between its making
    and its maker's taking it: free, so dead, and removed. The maker makes another
    rather than write into a folder that is gone, or one the judge is removing."""
    made: list[Path] = []

    def make() -> Path:
        path = tmp_path / f"{owned_prefix('.work-')}{len(made)}"
        path.mkdir()
        made.append(path)
        if len(made) == 1:
            assert remove_dead_leftovers(tmp_path, ".work-") == [path]  # that instant
        return path

    with owned(make) as held:
        assert held == made[1] and held.is_dir()
        assert remove_dead_leftovers(tmp_path, ".work-") == []
    assert remove_dead_leftovers(tmp_path, ".work-") == [held]


def test_where_no_lock_can_be_had_the_process_id_judges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no flock (nor a way to open a folder to lock it): there, as before,
    a leftover of a running process stays and one of a process that is gone goes."""
    monkeypatch.setitem(sys.modules, "fcntl", None)  # type: ignore[arg-type]
    running = tmp_path / f".convert-{os.getpid()}-abc"
    gone = tmp_path / f".convert-{dead_pid()}-abc"
    running.mkdir()
    gone.mkdir()

    def make() -> Path:
        path = tmp_path / f"{owned_prefix('.convert-')}mine"
        path.mkdir()
        return path

    with owned(make) as mine:
        assert remove_dead_leftovers(tmp_path, ".convert-") == [gone]
    assert running.is_dir() and mine.is_dir()


def test_a_file_system_whose_file_ids_never_match_ends_making_work_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a name's file id never matches the open descriptor's (some FUSE and overlay
    mounts), every folder made looked taken by a judge: `owned` made folders forever."""
    import atri.files

    monkeypatch.setattr(atri.files, "still_named", lambda fd, path: False)
    made: list[Path] = []

    def make() -> Path:
        if len(made) > 3 * atri.files.OWNED_TRIES:
            raise RuntimeError("still making work folders")
        path = tmp_path / f"{owned_prefix('.work-')}{len(made)}"
        path.mkdir()
        made.append(path)
        return path

    with owned(make) as held:
        assert held == made[-1] and held.is_dir() and len(made) == atri.files.OWNED_TRIES

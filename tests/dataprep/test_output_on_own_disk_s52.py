"""`atri prep --out DIR` where DIR is a disk of its own (a mount point: a second disk, a
Docker volume): no file moves into it from a staging folder beside it (EXDEV), and every
run failed with "cannot be written (Invalid cross-device link)". The files are staged
inside it then, in a hidden folder that never stays and is never read as output; a full
disk says it is full."""

from __future__ import annotations

import errno
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.dataprep.conftest import FIXTURES
from tests.dataprep.test_run_outcomes import prep, snapshot
from tests.mount_namespace import run_in_mount_namespace

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = {"atri_sharegpt.json", "atri_messages.jsonl", "dataset_info.json", "atri_stats.json"}


def moves_stay_on_their_disk(monkeypatch: pytest.MonkeyPatch, disk: Path) -> None:
    """Path.replace as between two disks: EXDEV for a move into or out of `disk` from
    a folder not in it."""
    real_replace = Path.replace

    def replace(self: Path, target: str | os.PathLike[str]) -> Path:
        if self.is_relative_to(disk) != Path(target).is_relative_to(disk):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(self), str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)


def hidden_in_and_beside(out: Path) -> list[str]:
    return [p.name for p in [*out.iterdir(), *out.parent.iterdir()] if p.name.startswith(".")]


@pytest.mark.parametrize("seen_as_mount_point", [True, False])
def test_a_folder_on_a_disk_of_its_own_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen_as_mount_point: bool
) -> None:
    """A mount point (`ismount`), and one `ismount` does not see (a bind mount of the
    same disk: the moves fail with EXDEV all the same)."""
    out = tmp_path / "dataset"
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0
    earlier = snapshot(out)
    moves_stay_on_their_disk(monkeypatch, out)
    monkeypatch.setattr(os.path, "ismount", lambda path: seen_as_mount_point and path == out)

    code, said = prep(tmp_path, [FIXTURES / "plain_en.txt"], out)
    assert code == 0, said
    assert set(snapshot(out)) >= OUTPUTS
    assert snapshot(out) != earlier  # the new run's files
    assert hidden_in_and_beside(out) == []


def test_a_full_disk_of_its_own_keeps_the_earlier_files_and_says_it_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dataset"
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0
    earlier = snapshot(out)
    monkeypatch.setattr(os.path, "ismount", lambda path: path == out)
    import dataprep.writers as writers

    real_write = writers._Writer.write

    def fill_disk(self: writers._Writer, rows: list[str]) -> None:
        if Path(self.file.name).parent.parent == out:  # staged inside `out`
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.file.name)
        real_write(self, rows)

    monkeypatch.setattr(writers._Writer, "write", fill_disk)
    code, said = prep(tmp_path, [FIXTURES / "plain_en.txt"], out)
    assert code == 1
    assert "its disk is full (No space left on device); free some space" in " ".join(said.split())
    assert snapshot(out) == earlier
    assert hidden_in_and_beside(out) == []


def test_the_staging_folder_of_a_killed_run_inside_the_folder_is_removed(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dataset"
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0
    earlier = snapshot(out)
    dead = out / ".atri-prep.tmp-999999999-abc"  # no such process
    dead.mkdir()
    (dead / "atri_sharegpt.json").write_text("[]", encoding="utf-8")

    from model.training.data_files import _prep_files_in

    assert all(p.parent == out for p in _prep_files_in(out))  # `atri train` does not read it
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0
    assert not dead.exists()
    assert snapshot(out) == earlier


def run_in_own_mount(tmp_path: Path, size: str, commands: list[str]) -> str:
    """`commands` (shell) where `tmp_path/out` is a tmpfs of `size`, in a mount namespace
    of their own (`unshare`): no privileges needed, nothing left mounted."""
    out = tmp_path / "out"
    out.mkdir()
    run = run_in_mount_namespace(
        f"mount -t tmpfs -o size={size} tmpfs {out}",
        commands,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "400", "PYTHONPATH": str(REPO)},
    )
    return run.stdout + run.stderr


def test_prep_into_a_mount_point(tmp_path: Path) -> None:
    """The study's repro: every run failed with "Invalid cross-device link"."""
    atri = shlex.join([sys.executable, "-m", "atri"])
    fixture = FIXTURES / "plain_en.txt"
    out = tmp_path / "out"
    said = run_in_own_mount(
        tmp_path,
        "20m",
        [
            f"{atri} prep {fixture} --out {out}; echo rc=$?",
            f"ls -A {out}; ls -A {tmp_path}",
        ],
    )
    assert "rc=0" in said, said
    assert "atri_sharegpt.json" in said and "cross-device" not in said
    assert ".atri-prep.tmp-" not in said and ".out.tmp-" not in said


def test_prep_into_a_full_mount_point_says_the_disk_is_full(tmp_path: Path) -> None:
    atri = shlex.join([sys.executable, "-m", "atri"])
    out = tmp_path / "out"
    said = run_in_own_mount(
        tmp_path,
        "200k",
        [
            f"{atri} prep {FIXTURES / 'plain_zh.txt'} --out {out}; echo first=$?",
            f"sha256sum {out}/* > {tmp_path}/before.sha",
            f"head -c 10000000 /dev/zero > {out}/filler 2>/dev/null",
            f"{atri} prep {FIXTURES / 'plain_en.txt'} --out {out}; echo second=$?",
            f"rm {out}/filler; sha256sum -c --quiet {tmp_path}/before.sha && echo intact",
            f"ls -A {out}",
        ],
    )
    flat = " ".join(said.split())
    assert "first=0" in flat and "second=1" in flat, said
    assert "its disk is full (No space left on device)" in flat
    assert "intact" in flat and ".atri-prep.tmp-" not in flat

"""Version folders: names, listing, manifest reading, atomic publish, stale build folders."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.adapters.versions import (
    AdapterError,
    ManifestError,
    find_version,
    is_version_name,
    latest_version,
    list_versions,
    next_version_name,
    publish,
    read_manifest,
    remove_stale_temps,
    temp_folder,
)

NOON = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def make_version(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        (folder / f).write_text("{}", encoding="utf-8")
    manifest = {"format": "atri-adapter", "version": name}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_names_are_utc_stamps_with_a_counter_when_taken(tmp_path: Path) -> None:
    assert next_version_name(tmp_path, NOON) == "20260101-120000"
    (tmp_path / "20260101-120000").mkdir()
    (tmp_path / "20260101-120000-2").mkdir()
    assert next_version_name(tmp_path, NOON) == "20260101-120000-3"
    local = NOON.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert next_version_name(tmp_path / "x", local) == "20260101-120000"
    assert is_version_name("20260101-120000-12")
    assert not is_version_name(".tmp-20260101-120000-77")
    assert not is_version_name("20260101-120000-1")


def test_a_new_version_sorts_after_one_named_in_the_future(tmp_path: Path) -> None:
    """A version trained where the clock ran ahead (or named by hand) must not stay the
    newest: the next one continues its name instead of sorting before it."""
    make_version(tmp_path, "20991231-235959")
    name = next_version_name(tmp_path, NOON)
    assert name == "20991231-235959-2"
    make_version(tmp_path, name)
    assert latest_version(tmp_path) == tmp_path / name
    assert next_version_name(tmp_path, NOON) == "20991231-235959-3"


def test_only_complete_visible_versions_are_listed_in_order(tmp_path: Path) -> None:
    make_version(tmp_path, "20260101-120000-10")
    make_version(tmp_path, "20260101-120000")
    make_version(tmp_path, "20260101-120000-2")
    make_version(tmp_path, ".tmp-20260102-000000-1")
    (make_version(tmp_path, "20260103-000000") / "adapter_model.safetensors").unlink()
    names = [p.name for p in list_versions(tmp_path)]
    assert names == ["20260101-120000", "20260101-120000-2", "20260101-120000-10"]
    assert latest_version(tmp_path) == tmp_path / "20260101-120000-10"
    assert latest_version(tmp_path / "missing") is None


def test_read_manifest_errors_are_one_sentence(tmp_path: Path) -> None:
    folder = make_version(tmp_path, "20260101-120000")
    assert read_manifest(folder)["version"] == "20260101-120000"
    (folder / "manifest.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(ManifestError, match="cannot be read as JSON"):
        read_manifest(folder)
    (folder / "manifest.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ManifestError, match="not an ATRI adapter manifest"):
        read_manifest(folder)
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        read_manifest(tmp_path)


def test_publish_renames_into_place_and_takes_the_next_name_if_raced(tmp_path: Path) -> None:
    taken = make_version(tmp_path, "20260101-120000")
    with temp_folder(tmp_path, "20260101-120000") as tmp:
        assert tmp.name.startswith(".tmp-20260101-120000-")
        (tmp / "manifest.json").write_text(
            json.dumps({"format": "atri-adapter", "version": "20260101-120000"}), encoding="utf-8"
        )
        final = publish(tmp, tmp_path, "20260101-120000")
    assert final != taken and not tmp.exists()
    assert read_manifest(final)["version"] == final.name
    assert read_manifest(taken)["version"] == "20260101-120000"


def test_build_folders_of_dead_runs_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f".tmp-20260101-120000-0123abcd-{dead.stdout.strip()}"
    stale.mkdir()
    with temp_folder(tmp_path, "20260101-120001") as live:
        assert remove_stale_temps(tmp_path) == [stale]
        assert live.is_dir() and not stale.exists()


def test_versions_module_imports_no_torch() -> None:
    code = "import sys, model.adapters.versions; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_adapters_dir_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    adapters = tmp_path / "adapters"
    adapters.write_text("", encoding="utf-8")
    with pytest.raises(AdapterError, match="adapters is a file, not a folder"):
        find_version(adapters, None)
    with pytest.raises(AdapterError, match="no adapter version yet"):
        find_version(tmp_path / "none", None)

"""Session 69: a version shipped from the training machine by hand. A version folder
caught half copied (weights before manifest.json) was logged as a foreign peft folder
to adopt, and adopting it published the half copy as a newer version; the GGUF export
copied alone was listed "no manifest" without saying what else a version needs; a
user's hidden staging folder `.tmp-20261207-014228` was deleted as a dead run's; the
listing's legend explained "refused by the worker" where no row showed it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from atri.config import ReloadSettings, Settings
from model.adapters.adopt import adopt_adapter
from model.adapters.gguf_lora import ADAPTER_GGUF, GGUF_RECORD
from model.adapters.reload import Reloader
from model.adapters.versions import (
    ADAPTER_FILES,
    MANIFEST,
    AdapterError,
    list_versions,
    remove_stale_temps,
    temp_folder,
)
from tests.atri.test_adapters_list_prune_s53 import (
    atri,
    closed_port,
    config,
    pickled,
    row,
    worker_answering,
)
from tests.cli_output import says
from tests.model.adapters.test_adapter_loading_s50 import peft_adapter
from tests.model.conftest import V1, V2, V3, MakeVersion


def half_copied(adapters_dir: Path, version: Path, name: str) -> Path:
    """`name` as `cp -r` leaves it midway: the adapter files in, manifest.json not yet."""
    folder = adapters_dir / name
    folder.mkdir()
    for file in ADAPTER_FILES:
        shutil.copyfile(version / file, folder / file)
    return folder


def gguf_export(adapters_dir: Path, name: str, *extra: str) -> Path:
    """`name` holding only what the llama.cpp machine uses (adapter.gguf and its record),
    with `extra` files of a version beside them."""
    folder = adapters_dir / name
    folder.mkdir()
    (folder / ADAPTER_GGUF).write_bytes(b"GGUF" + b"\0" * 64)
    (folder / GGUF_RECORD).write_text("{}", encoding="utf-8")
    for file in extra:
        shutil.copyfile(adapters_dir / V1 / file, folder / file)
    return folder


def job_warnings(adapters_dir: Path, caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the reload job logs of the folders it passes over."""
    job = Reloader(ReloadSettings(), adapters_dir, adapters_dir.parent, None, "", "")
    with caplog.at_level(logging.WARNING, logger="model.adapters.reload"):
        job._log_bare_folders()
    return [r.getMessage() for r in caplog.records]


# --- a version folder half copied ---------------------------------------------------------


def test_a_version_half_copied_is_not_pointed_at_adopt(
    make_version: MakeVersion,
    adapters_dir: Path,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    half_copied(adapters_dir, make_version(V1), V2)
    peft_adapter(tiny_model_dir, adapters_dir / "lf-out")  # trained elsewhere: adopt it
    [said] = job_warnings(adapters_dir, caplog)
    # The version's clause first (its name sorts first), then the foreign folder's.
    coming, foreign = said.split("; ")[:2], said.split("; ")[2:]
    assert "; ".join(coming) == (
        f"{V2} in {adapters_dir} has no manifest.json yet: if it is being copied in, it is "
        "taken once complete; a version from `atri train` needs its manifest.json, so copy "
        "the folder whole from where it was trained"
    )
    assert "lf-out" in foreign[0] and "adopt" in foreign[1]


def test_adopt_refuses_a_version_half_copied_into_the_adapters_folder(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    half = half_copied(adapters_dir, make_version(V1), V2)
    with pytest.raises(AdapterError) as refused:
        adopt_adapter(reload_settings, half)
    assert str(refused.value) == (
        f"{half} is an adapter version without its manifest.json (still being copied in, or "
        "copied in part): copy the whole folder from where it was trained, and the reload job "
        "takes it once complete; adopted, it would be published again under a newer name."
    )
    assert [p.name for p in list_versions(adapters_dir)] == [V1]  # no version under a new name
    # Once its manifest is in, it is the version it is.
    shutil.copyfile(adapters_dir / V1 / MANIFEST, half / MANIFEST)
    (half / MANIFEST).write_text(
        (half / MANIFEST).read_text(encoding="utf-8").replace(V1, V2), encoding="utf-8"
    )
    assert [p.name for p in list_versions(adapters_dir)] == [V1, V2]


def test_a_folder_named_as_a_version_elsewhere_is_still_adopted(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path, tmp_path: Path
) -> None:
    """Only inside the adapters folder does its name say it is a version on its way."""
    source = peft_adapter(tiny_model_dir, tmp_path / "elsewhere" / V3)
    adopted = adopt_adapter(reload_settings, source)
    assert list_versions(adapters_dir) == [adopted.folder]


# --- the GGUF export copied alone -----------------------------------------------------


def test_list_names_what_a_folder_copied_in_part_lacks(
    make_version: MakeVersion, adapters_dir: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    make_version(V1)
    gguf_export(adapters_dir, "20250101-000004")
    with_manifest = gguf_export(adapters_dir, "20250101-000005", MANIFEST)
    (with_manifest / MANIFEST).write_text(
        (with_manifest / MANIFEST).read_text(encoding="utf-8").replace(V1, with_manifest.name),
        encoding="utf-8",
    )
    half_copied(adapters_dir, adapters_dir / V1, "20250101-000006")
    code, out = atri(config(tmp_path, tiny_model_dir, f"http://127.0.0.1:{closed_port()}"),
                     "adapters", "list")  # fmt: skip
    assert code == 0, out
    assert row(out, "20250101-000004").endswith("refused: gguf only")
    assert row(out, "20250101-000005").endswith("refused: gguf only")
    assert row(out, "20250101-000006").endswith("refused: no manifest")
    assert says(
        out,
        "Version 20250101-000004: adapter.gguf alone is no version: copy adapter_config.json, "
        "adapter_model.safetensors and manifest.json too, the whole folder `atri train` wrote.",
    )
    assert says(
        out,
        "Version 20250101-000005: adapter.gguf alone is no version: copy adapter_config.json "
        "and adapter_model.safetensors too, the whole folder `atri train` wrote.",
    )
    assert says(
        out,
        "Version 20250101-000006 lacks manifest.json: copy the whole folder `atri train` wrote "
        "(one still being copied in is taken once complete).",
    )
    assert not says(out, f"Version {V1}")


# --- hidden folders of the user's own -------------------------------------------------


def test_a_users_hidden_folders_are_never_taken_for_a_dead_runs(
    make_version: MakeVersion,
    adapters_dir: Path,
    tmp_path: Path,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = make_version(V1)
    staging = adapters_dir / ".tmp-20261207-014228"  # a date, read as a dead pid
    incoming = adapters_dir / f".incoming-{V2}"  # README's way of shipping a version
    # A copy of version 20250101-000002-2 on its way: read as a build of ...-000002 by pid 2.
    for folder in (staging, incoming, adapters_dir / ".tmp-20250101-000002-2"):
        shutil.copytree(version, folder)
    # What ATRI itself leaves, a build's or a prune's held by no process, still goes.
    left = []
    for name in (V3, "pruned"):
        with temp_folder(adapters_dir, name) as build:
            left.append(build)
    assert sorted(remove_stale_temps(adapters_dir)) == sorted(left)
    assert staging.is_dir() and incoming.is_dir()
    # The reload job passes them over without a word, the listing does not show them,
    # prune does not touch them.
    assert list_versions(adapters_dir) == [version]
    assert job_warnings(adapters_dir, caplog) == []
    url = f"http://127.0.0.1:{closed_port()}"
    for command in (["list"], ["prune", "--keep", "1", "--yes"]):
        code, out = atri(config(tmp_path, tiny_model_dir, url), "adapters", *command)
        assert code == 0, out
        assert ".tmp-" not in out and ".incoming" not in out
    assert (staging / MANIFEST).is_file() and (incoming / MANIFEST).is_file()
    # Renamed into place, it is a version.
    incoming.rename(adapters_dir / V2)
    (adapters_dir / V2 / MANIFEST).write_text(
        (adapters_dir / V2 / MANIFEST).read_text(encoding="utf-8").replace(V1, V2),
        encoding="utf-8",
    )
    assert [p.name for p in list_versions(adapters_dir)] == [V1, V2]


# --- the listing's legend -------------------------------------------------------------


def test_the_legend_explains_refused_by_the_worker_only_where_a_row_shows_it(
    make_version: MakeVersion, adapters_dir: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    make_version(V3, seed=3)
    pickled(adapters_dir, V3)  # its files fail the checks: "refused: pickle" says more
    legend = "refused by the worker: its last reload found it broken once loaded"
    for refused, shown in ((V3, False), (V2, True)):
        status = {
            "engine": "local",
            "base_model": "tiny",
            "adapter_version": V1,
            "last_reload": {"version": refused, "code": "refused"},
        }
        with worker_answering(status) as url:
            code, out = atri(config(tmp_path, tiny_model_dir, url), "adapters", "list")
        assert code == 0, out
        assert row(out, V3).endswith("refused: pickle")
        assert row(out, V2).endswith("refused by the worker") is shown
        assert says(out, legend) is shown

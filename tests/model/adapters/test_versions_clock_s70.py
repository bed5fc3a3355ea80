"""Session 70: adapter versions after the wall clock stepped back, and JSON files saved
by Notepad with a byte-order mark.

A version made while the clock ran ahead (20991231-235959, its created_at as far ahead)
stays the newest name once the clock is put right: the next version continues its name
(`…-2`) and is served. Its created_at, from the right clock, lies before the other's, so
`atri adapters list` and the reload job said at every start that the older one "was made
after the newest version … rename its folder to a name after …-2" (which would serve the
old adapter), and the list showed the new version's age as "future". The new version's
manifest now records the name it continued (`named_after`): the versions up to it were
there first.

A JSON file saved with a BOM (Notepad's "UTF-8 with BOM") was refused with Python's
"Unexpected UTF-8 BOM", a manifest.json as `refused: bad manifest` with no reason at all,
and a dataset_info.json in prep's --out as "not valid JSON on line 1"."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.adopt import adopt_adapter
from model.adapters.validation import check_adapter_folder
from model.adapters.versions import (
    MANIFEST,
    NAMED_AFTER,
    AdapterError,
    hidden_by_name,
    next_version,
    publish,
    read_manifest,
)
from model.service import ChatService
from tests.atri.test_adapters_list_prune_s53 import atri, closed_port, config, row
from tests.dataprep.conftest import FIXTURES
from tests.dataprep.test_other_character import prep_into
from tests.model.adapters.test_adapter_loading_s50 import peft_adapter
from tests.model.adapters.test_versions import NOON, make_version
from tests.model.conftest import V1, MakeVersion

# Made while the clock ran ahead: its name and its created_at both that clock's.
AHEAD, AHEAD_MADE = "20991231-235959", "2099-12-31T23:59:59+00:00"
CONTINUED = f"{AHEAD}-2"


def with_bom(path: Path) -> None:
    """The file as Notepad's "UTF-8 with BOM" saves it."""
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())


# --- versions after a clock step --------------------------------------------------------


def test_a_name_that_continues_another_says_which(tmp_path: Path) -> None:
    assert next_version(tmp_path, NOON) == ("20260101-120000", "")
    make_version(tmp_path, AHEAD)
    assert next_version(tmp_path, NOON) == (CONTINUED, AHEAD)


def test_a_version_renamed_in_a_race_records_the_name_it_continues(tmp_path: Path) -> None:
    make_version(tmp_path, AHEAD)  # published by another run as this one built
    build = tmp_path / ".tmp-build"
    build.mkdir()
    (build / MANIFEST).write_text(
        json.dumps({"format": "atri-adapter", "version": AHEAD}), encoding="utf-8"
    )
    folder = publish(build, tmp_path, AHEAD)
    assert folder.name == CONTINUED
    assert read_manifest(folder) == {
        "format": "atri-adapter",
        "version": CONTINUED,
        NAMED_AFTER: AHEAD,
    }


def test_versions_up_to_the_name_continued_are_not_hidden() -> None:
    made = dt.datetime(2026, 12, 7, 4, 5, tzinfo=dt.UTC)
    created = {
        "20261206-000000": made + dt.timedelta(hours=1),  # copied in: made after it
        AHEAD: dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    }
    assert hidden_by_name(created, CONTINUED, made, AHEAD) == []
    # Without the record, as before: both read as made after it.
    assert [name for name, _ in hidden_by_name(created, CONTINUED, made)] == [
        "20261206-000000",
        AHEAD,
    ]


def adopted_after_the_step(settings: Settings, make: MakeVersion, model_dir: Path) -> str:
    """V1, AHEAD (made while the clock ran ahead), then a version adopted with the clock
    right: by the time now, named after AHEAD."""
    make(V1)
    make(AHEAD, seed=2, created_at=AHEAD_MADE)
    source = peft_adapter(model_dir, settings.path("new-adapter"), seed=5)
    return adopt_adapter(settings, source).version


def test_list_names_no_version_hidden_and_counts_the_age_from_created_at(
    reload_settings: Settings, make_version: MakeVersion, tiny_model_dir: Path, tmp_path: Path
) -> None:
    name = adopted_after_the_step(reload_settings, make_version, tiny_model_dir)
    assert name == CONTINUED
    manifest = read_manifest(reload_settings.path(reload_settings.model.adapters_dir) / name)
    assert manifest[NAMED_AFTER] == AHEAD
    no_worker = config(tmp_path, tiny_model_dir, f"http://127.0.0.1:{closed_port()}")
    code, out = atri(no_worker, "adapters", "list")
    assert code == 0, out
    assert "was made after" not in out
    assert row(out, CONTINUED).split()[1] == "now"  # was "future", by its name


async def test_the_job_serves_the_continued_version_and_warns_of_nothing(
    reload_settings: Settings,
    make_version: MakeVersion,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = adopted_after_the_step(reload_settings, make_version, tiny_model_dir)
    caplog.set_level(logging.INFO, logger="model.adapters.reload")
    async with await ChatService.open(reload_settings) as service:
        taken = await service.reloader.check()
        assert taken is not None and taken.adapter_version == name
        assert await service.reloader.check() is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- JSON files with a byte-order mark ----------------------------------------------------

BOM_SAID = 'starts with a byte-order mark (BOM, as Notepad\'s "UTF-8 with BOM" saves it)'


def test_an_adapter_folder_with_a_bom_in_its_config_is_told_how_to_save_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = peft_adapter(tiny_model_dir, tmp_path / "notepad", seed=3)
    with_bom(folder / "adapter_config.json")
    with pytest.raises(AdapterError) as refused:
        check_adapter_folder(folder)  # `[model] adapter` at a worker's start
    said = str(refused.value)
    assert said == (
        f"{folder / 'adapter_config.json'} {BOM_SAID}, which JSON readers refuse: save it "
        "again as UTF-8 without BOM."
    )


def test_adopt_takes_a_config_with_a_bom_and_writes_its_copy_without(
    reload_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = peft_adapter(tiny_model_dir, tmp_path / "notepad", seed=3)
    with_bom(source / "adapter_config.json")
    adopted = adopt_adapter(reload_settings, source)
    copy = (adopted.folder / "adapter_config.json").read_bytes()
    assert not copy.startswith(codecs.BOM_UTF8)
    check_adapter_folder(adopted.folder)  # as peft and the reload job read it


def test_list_says_why_a_manifest_with_a_bom_is_refused(
    make_version: MakeVersion, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = make_version(V1)
    with_bom(folder / MANIFEST)
    no_worker = config(tmp_path, tiny_model_dir, f"http://127.0.0.1:{closed_port()}")
    code, out = atri(no_worker, "adapters", "list")
    assert code == 0, out
    assert "refused: bad manifest" in row(out, V1)
    said = " ".join(out.split())
    assert (
        f"Version {V1}: {folder / MANIFEST} {BOM_SAID}, which JSON readers refuse: save it "
        "again as UTF-8 without BOM."
    ) in said


def test_prep_keeps_the_entries_of_a_dataset_info_with_a_bom(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    info = out / "dataset_info.json"
    info.write_text(json.dumps({"mine": {"file_name": "mine.json"}}), encoding="utf-8")
    with_bom(info)
    assert prep_into(out, tmp_path, [FIXTURES / "plain_zh.txt"]) == 0
    assert not info.read_bytes().startswith(codecs.BOM_UTF8)  # written back without it
    entries = json.loads(info.read_text(encoding="utf-8"))
    assert entries["mine"] == {"file_name": "mine.json"} and "atri" in entries

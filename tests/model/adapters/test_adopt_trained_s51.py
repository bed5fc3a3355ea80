"""Adopting the weights of a version `atri train` wrote names that version: it said the
folder "is already adopted", though nobody had adopted it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.adopt import adopt_adapter
from model.adapters.validation import ADAPTER_WEIGHTS
from model.adapters.versions import AdapterError, list_versions
from tests.model.conftest import V1, MakeVersion


def test_the_weights_of_a_trained_version_are_that_version_already(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path, tmp_path: Path
) -> None:
    trained = make_version(V1)
    # Its two adapter files copied out, as a user hands them to adopt.
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy, ignore=shutil.ignore_patterns("manifest.json", "*.gguf*"))
    assert (copy / ADAPTER_WEIGHTS).is_file()
    with pytest.raises(AdapterError, match=f"is already version {V1} in") as refused:
        adopt_adapter(reload_settings, copy)
    assert "already adopted" not in str(refused.value)
    assert [v.name for v in list_versions(adapters_dir)] == [V1]

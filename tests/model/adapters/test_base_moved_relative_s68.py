"""A version trained on `base = "models/tinyqwen"` (a relative folder, as most configs
write it) is still taken once the folder moves to `models2/tinyqwen`: the name reads like
a hub id, so only `./models/…` was taken as a moved folder, and the version was refused
as trained on another base."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from model.adapters.validation import same_base
from model.service import ChatService
from tests.model.adapters.test_reload import set_manifest
from tests.model.conftest import V1, MakeVersion


def test_a_relative_base_folder_that_moved_agrees_by_its_config_hash(tmp_path: Path) -> None:
    (tmp_path / "models2" / "tinyqwen").mkdir(parents=True)
    assert same_base("models/tinyqwen", "models2/tinyqwen", tmp_path, recorded_hash="abc123")
    assert same_base("models/tinyqwen", "./models2/tinyqwen", tmp_path, "abc123")
    assert same_base("data/models/qwen", "models2/tinyqwen", tmp_path, "abc123")  # a path
    assert not same_base("models/tinyqwen", "models2/tinyqwen", tmp_path)  # no hash


def test_a_hub_id_is_still_another_base_than_a_local_folder_of_another_model(
    tmp_path: Path,
) -> None:
    (tmp_path / "models2" / "tinyqwen").mkdir(parents=True)
    for hub_id in ("Qwen/Qwen2.5-1.5B-Instruct", "gpt2", "builtin:smollm2-135m"):
        assert not same_base(hub_id, "models2/tinyqwen", tmp_path, "abc123"), hub_id
    # A recorded folder name is no folder while the base loaded now is a hub id.
    assert not same_base("models/tinyqwen", "Qwen/Qwen2.5-1.5B-Instruct", tmp_path, "abc123")


async def test_the_reload_job_takes_a_version_whose_relative_base_folder_moved(
    reload_settings: Settings, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    """The tester's steps: trained with `base = "models/<tiny>"`, then the folder moved to
    models2/ and `[model] base` changed to match."""
    moved = reload_settings.path("models2") / tiny_model_dir.name
    moved.parent.mkdir(parents=True)
    moved.symlink_to(tiny_model_dir, target_is_directory=True)
    reload_settings.model.base = f"models2/{tiny_model_dir.name}"
    folder = make_version(V1)
    set_manifest(folder, base_model=f"models/{tiny_model_dir.name}")
    async with await ChatService.open(reload_settings) as service:
        result = await service.reload(V1)
    assert result.ok, result.reason
    assert result.adapter_version == V1

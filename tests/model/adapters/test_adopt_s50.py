"""`atri adapters adopt`: a peft folder trained elsewhere becomes a version the reload job
serves; a folder that would not pass its checks is one sentence and leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from model.adapters import adopt
from model.adapters.adopt import adopt_adapter
from model.adapters.reload import Reloader
from model.adapters.validation import ADAPTER_WEIGHTS, AdapterManifest, read_version
from model.adapters.versions import (
    MANIFEST,
    AdapterError,
    bare_peft_folders,
    list_versions,
    read_manifest,
)
from model.engines.local import LocalEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.adapters.test_adapter_loading_s50 import peft_adapter
from tests.model.conftest import V1, MakeVersion

TRAINER_LEFTOVERS = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "README.md")


def llama_factory_out(model_dir: Path, out: Path, seed: int = 1) -> Path:
    """A trainer's output folder: the final adapter at the top, beside what it leaves."""
    peft_adapter(model_dir, out, seed=seed)
    for name in TRAINER_LEFTOVERS:
        (out / name).write_text("x", encoding="utf-8")
    peft_adapter(model_dir, out / "checkpoint-100", seed=seed)
    return out


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


async def test_an_adopted_folder_is_picked_up_by_the_reload_job_and_serves(
    reload_settings: Settings, tiny_model_dir: Path, tiny_hash: str, tmp_path: Path
) -> None:
    source = llama_factory_out(tiny_model_dir, tmp_path / "lf-out")
    out = reload_settings.path(reload_settings.model.adapters_dir)
    adopted = adopt_adapter(reload_settings, source)
    # The two adapter files and a manifest; nothing the trainer left beside them.
    assert entries(adopted.folder) == ["adapter_config.json", ADAPTER_WEIGHTS, MANIFEST]
    assert [p.name for p in list_versions(out)] == [adopted.version]
    manifest = read_manifest(adopted.folder)
    assert manifest["version"] == adopted.version
    assert manifest["base_model"] == str(tiny_model_dir)
    assert manifest["base_config_hash"] == tiny_hash  # what `atri train` records
    assert manifest["dataset_sha256"] is None and "character" not in manifest
    assert manifest["target_modules"] == ["q_proj", "v_proj"] and manifest["lora_r"] == 4
    assert manifest["adopted_from"] == str(source.resolve())
    AdapterManifest.model_validate(manifest)
    read_version(out, adopted.version)  # the reload job's own file checks pass

    async with await ChatService.open(reload_settings) as service:
        base_reply = await service.chat(ChatRequest(platform="t", user_id="a", text="hi"))
        assert base_reply.adapter_version == ""
        result = await service.reloader.check()  # the scheduled job's look
        assert result is not None and result.ok, result
        assert result.version == adopted.version
        reply = await service.chat(ChatRequest(platform="t", user_id="b", text="hi"))
        assert reply.adapter_version == adopted.version
        # Recorded as no one's: a worker of any character takes it, under its card.
        assert service.reloader.prompt_for(adopted.version) == service.reloader.card_prompt


def test_the_base_read_from_its_config_alone_is_the_base_the_engine_loads(
    settings: Settings, any_tiny_model_dir: Path
) -> None:
    """Its config hash and layer sizes from a model built on the meta device (no weights)
    are those of the model as loaded: tied embeddings (Qwen2) too."""
    from transformers import AutoModelForCausalLM

    from model.engines.loading import config_hash
    from model.engines.local import layer_dims

    settings.model.base = str(any_tiny_model_dir)
    facts = adopt.base_facts(settings)
    loaded = AutoModelForCausalLM.from_pretrained(any_tiny_model_dir)
    assert facts.config_hash == config_hash(loaded)
    assert facts.module_dims == layer_dims(loaded)


def test_the_version_is_named_by_the_clock_after_the_newest_or_as_given(
    reload_settings: Settings, tiny_model_dir: Path, make_version: MakeVersion, tmp_path: Path
) -> None:
    make_version(V1)
    first = adopt_adapter(reload_settings, peft_adapter(tiny_model_dir, tmp_path / "a", seed=2))
    assert first.version > V1
    given = f"{first.version}-2"  # a name ahead of the clock is refused (s67)
    second = adopt_adapter(
        reload_settings, peft_adapter(tiny_model_dir, tmp_path / "b", seed=3), given
    )
    assert second.version == given and read_manifest(second.folder)["version"] == given


def trainer_folder(model_dir: Path, root: Path) -> Path:
    folder = root / "saves"
    for step in (100, 250):
        peft_adapter(model_dir, folder / f"checkpoint-{step}")
    return folder


def pickled(model_dir: Path, root: Path) -> Path:
    folder = peft_adapter(model_dir, root / "bin")
    (folder / ADAPTER_WEIGHTS).rename(folder / "adapter_model.bin")
    return folder


def config_set(model_dir: Path, root: Path, **fields: object) -> Path:
    folder = peft_adapter(model_dir, root / "changed")
    path = folder / "adapter_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | fields))
    return folder


def state_dict_names(model_dir: Path, root: Path) -> Path:
    """Weights saved from model.state_dict() by hand: peft's adapter name in each key."""
    from safetensors.torch import load_file, save_file

    folder = peft_adapter(model_dir, root / "by-hand")
    weights = load_file(folder / ADAPTER_WEIGHTS)
    renamed = {k.replace(".weight", ".default.weight"): v for k, v in weights.items()}
    save_file(renamed, folder / ADAPTER_WEIGHTS)
    return folder


def a_version(model_dir: Path, root: Path) -> Path:
    folder = peft_adapter(model_dir, root / "version")
    (folder / MANIFEST).write_text("{}", encoding="utf-8")
    return folder


def no_weights(model_dir: Path, root: Path) -> Path:
    folder = peft_adapter(model_dir, root / "config-only")
    (folder / ADAPTER_WEIGHTS).unlink()
    return folder


def a_file(model_dir: Path, root: Path) -> Path:
    path = root / "adapter.safetensors"
    path.write_bytes(b"x")
    return path


Make = Callable[[Path, Path], Path]
REFUSALS: dict[str, tuple[Make, str]] = {
    "missing": (lambda m, r: r / "nowhere", "does not exist"),
    "a file": (a_file, "is not a folder"),
    "empty folder": (lambda m, r: (r / "empty").mkdir() or r / "empty", "adapter_config.json is missing"),
    "trainer's output": (trainer_folder, "checkpoint-250 the latest"),
    "pickle only": (pickled, "a pickle"),
    "config only": (no_weights, "no adapter_model.safetensors"),
    "PiSSA start": (lambda m, r: config_set(m, r, init_lora_weights="pissa"), "unconverted"),
    "rank of another": (lambda m, r: config_set(m, r, r=8), "says rank r = 8"),
    "state-dict names": (state_dict_names, "peft's adapter name 'default'"),
    "an ATRI version": (a_version, "already an adapter version"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_each_refusal_is_one_sentence_and_leaves_nothing(
    reload_settings: Settings, tiny_model_dir: Path, tmp_path: Path, kind: str
) -> None:
    make, said = REFUSALS[kind]
    source = make(tiny_model_dir, tmp_path)
    with pytest.raises(AdapterError) as refused:
        adopt_adapter(reload_settings, source)
    assert said in str(refused.value)
    assert "\n" not in str(refused.value)
    assert entries(reload_settings.path(reload_settings.model.adapters_dir)) == []


def test_an_adapter_of_another_model_size_is_refused_by_its_shapes(
    reload_settings: Settings, wide_model_dir: Path, tmp_path: Path
) -> None:
    source = peft_adapter(wide_model_dir, tmp_path / "wide")
    with pytest.raises(AdapterError) as refused:
        adopt_adapter(reload_settings, source)
    message = str(refused.value)
    assert message.startswith(f"{source} does not fit [model] base")
    assert "another model size" in message
    assert entries(reload_settings.path(reload_settings.model.adapters_dir)) == []


def test_adopting_the_same_weights_again_names_the_version_that_has_them(
    reload_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = peft_adapter(tiny_model_dir, tmp_path / "once")
    first = adopt_adapter(reload_settings, source)
    with pytest.raises(AdapterError, match=f"is already version {first.version} in"):
        adopt_adapter(reload_settings, source)
    out = reload_settings.path(reload_settings.model.adapters_dir)
    assert entries(out) == [first.version]


@pytest.mark.parametrize(
    ("given", "said"),
    [("v2", "not an adapter version name"), ("20000101-000000", "sorts before version")],
)
def test_a_version_name_the_reload_job_would_not_serve_is_refused(
    reload_settings: Settings,
    tiny_model_dir: Path,
    make_version: MakeVersion,
    tmp_path: Path,
    given: str,
    said: str,
) -> None:
    make_version(V1)
    source = peft_adapter(tiny_model_dir, tmp_path / "named", seed=5)
    with pytest.raises(AdapterError, match=said):
        adopt_adapter(reload_settings, source, given)
    assert entries(reload_settings.path(reload_settings.model.adapters_dir)) == [V1]


def test_a_failure_midway_leaves_no_folder_and_no_reader_saw_half_a_version(
    reload_settings: Settings,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = reload_settings.path(reload_settings.model.adapters_dir)
    seen: list[object] = []

    def full_disk(path: Path, data: object) -> None:
        # The adapter files are copied by now: what the reload job would see of them.
        assert (path.parent / ADAPTER_WEIGHTS).is_file()
        seen.append((list_versions(out), bare_peft_folders(out)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(adopt, "write_json_atomic", full_disk)
    with pytest.raises(OSError, match="No space left"):
        adopt_adapter(reload_settings, peft_adapter(tiny_model_dir, tmp_path / "src"))
    assert seen == [([], [])]  # the half-built copy is hidden from the job
    assert entries(out) == []


# --- the reload job's words about bare folders and engine refusals ---------------------


async def test_the_reload_job_points_a_bare_folder_at_adopt_and_the_bots_say_it(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path
) -> None:
    from bot.lines import lines_for

    peft_adapter(tiny_model_dir, adapters_dir / "lf-out")
    engine = await LocalEngine.load(reload_settings)
    try:
        job = Reloader(
            reload_settings.reload, adapters_dir, reload_settings.root, engine, "You.", "hi"
        )
        result = await job.reload()
    finally:
        await engine.close()
    assert result.code == "no_version"
    assert f"atri adapters adopt {adapters_dir / 'lf-out'}" in result.message
    for language in ("zh", "en", "ja"):
        said = lines_for("ATRI", language).reload_said(result)
        assert "atri adapters adopt" in said and str(adapters_dir) in said, language
    # No bare folder: the line ends where it did, with no stray space.
    empty = result.model_copy(update={"reason": "", "reason_code": "", "reason_details": {}})
    assert lines_for("ATRI", "en").reload_said(empty).endswith(f"{adapters_dir}.")


async def test_a_shape_refusal_from_the_engine_names_the_version_once(
    reload_settings: Settings,
    make_version: MakeVersion,
    wide_model_dir: Path,
) -> None:
    make_version(V1, model_dir=wide_model_dir)  # the manifest claims our base: shapes differ
    async with await ChatService.open(reload_settings) as service:
        result = await service.reload(V1)
    assert not result.ok
    assert result.reason.startswith(f"Version {V1}: The adapter's ")
    assert result.reason.count(f"Version {V1}") == 1


# --- the command ------------------------------------------------------------------------


def test_the_command_adopts_and_says_when_a_worker_serves_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\nadapters_dir = "adapters"\n'
        "[reload]\nenabled = true\ninterval_seconds = 30\n",
        encoding="utf-8",
    )
    source = peft_adapter(tiny_model_dir, tmp_path / "lf-out")
    runner = CliRunner(env={"COLUMNS": "400"})
    done = runner.invoke(app, ["--config", str(config), "adapters", "adopt", str(source)])
    assert done.exit_code == 0, done.output
    [version] = list_versions(tmp_path / "adapters")
    assert f"Adopted {source} as adapter version {version.name}" in done.output
    assert "next look (every 30 s)" in done.output and "/atri-admin reload" in done.output
    again = runner.invoke(app, ["adapters", "adopt", str(source), "--config", str(config)])
    assert again.exit_code == 1
    said = " ".join(again.output.split())
    assert f"error: {source} is already version {version.name}" in said
    assert entries(tmp_path / "adapters") == [version.name]

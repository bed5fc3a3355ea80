"""Versions trained on another base model than `[model] base` (s68): version A on one
base, B on another, then the config back on A's base. `atri adapters list` called B
"newest" though the worker refuses it ("trained on …, but this worker runs …") and serves
A; `atri adapters prune --keep 1 --yes` kept B and removed A, the only version this base
can use; a running worker's guessed rollback target was B; `atri eval` with no version
picked B and then refused it. Each now judges the base as the reload job does
(`validation.same_base`).

The versions are real ones (peft files and a manifest, as training writes them) on two
tiny bases of different sizes; the worker is a stand-in answering `/status` over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.adapters.versions import list_versions
from tests.atri.test_adapters_list_prune_s53 import (
    atri,
    closed_port,
    row,
    serving,
    worker_answering,
)
from tests.cli_output import says
from tests.model.adapters.make_versions import base_config_hash
from tests.model.conftest import V1, V2, V3, MakeVersion
from tests.model.training.sharegpt import write, zh_dataset


@pytest.fixture(scope="module")
def wide_hash(wide_model_dir: Path) -> str:
    return base_config_hash(wide_model_dir)


@pytest.fixture
def on_wide(make_version: MakeVersion, wide_model_dir: Path, wide_hash: str) -> MakeVersion:
    """Writes a version trained on the other base (the wide tiny model)."""

    def make(name: str, **kwargs: object) -> Path:
        return make_version(
            name, wide_model_dir, base_model=str(wide_model_dir), config_hash=wide_hash, **kwargs
        )

    return make


def config(tmp_path: Path, base: Path, url: str = "", extra: str = "") -> Path:
    """A config on `base` whose versions are in tmp_path/adapters (make_version's), with
    data for `atri eval`; no worker listens at its address unless `url` is one."""
    url = url or f"http://127.0.0.1:{closed_port()}"
    write(tmp_path / "data" / "atri_sharegpt.json", zh_dataset(4))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nbase = "{base}"\nadapters_dir = "adapters"\n[worker]\nurl = "{url}"\n'
        '[train]\ndataset = "data/atri_sharegpt.json"\n'
        f"[eval]\nmax_new_tokens = 1\nbatch_size = 32\n{extra}",
        encoding="utf-8",
    )
    return path


def test_list_calls_a_version_of_another_base_so_and_the_newest_is_of_this_base(
    tmp_path: Path, make_version: MakeVersion, on_wide: MakeVersion, tiny_model_dir: Path,
    wide_model_dir: Path,
) -> None:  # fmt: skip
    make_version(V1)
    on_wide(V2)
    code, out = atri(config(tmp_path, tiny_model_dir), "adapters", "list")
    assert code == 0, out
    # Was: V2 "newest", the version a worker started now would load; it refuses it.
    assert row(out, V2).endswith(f"other base: {wide_model_dir.name}")
    assert row(out, V1).endswith("newest")
    # Each version's base, a folder by its name.
    assert f" {tiny_model_dir.name} " in row(out, V1)
    assert f" {wide_model_dir.name} " in row(out, V2)
    assert says(
        out, f"other base: trained on another base model than [model] base ({tiny_model_dir});"
    )
    # Under require_eval one of another base is not "refused: not evaluated": no eval
    # under this config can evaluate it.
    strict = config(tmp_path, tiny_model_dir, extra="[reload]\nrequire_eval = true\n")
    code, out = atri(strict, "adapters", "list")
    assert code == 0, out
    assert row(out, V2).endswith(f"other base: {wide_model_dir.name}")
    assert row(out, V1).endswith("refused: not evaluated")
    # With [model] base back on the other one, it is the other way round.
    code, out = atri(config(tmp_path, wide_model_dir), "adapters", "list")
    assert code == 0, out
    assert row(out, V2).endswith("newest")
    assert row(out, V1).endswith(f"other base: {tiny_model_dir.name}")


def test_prune_keeps_the_newest_version_of_this_base_and_spares_the_other_bases(
    tmp_path: Path, make_version: MakeVersion, on_wide: MakeVersion, tiny_model_dir: Path,
    wide_model_dir: Path, adapters_dir: Path,
) -> None:  # fmt: skip
    make_version(V1)
    on_wide(V2)
    code, out = atri(config(tmp_path, tiny_model_dir), "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    # Was: kept V2 and removed V1, the only version a worker on this base can load.
    assert [p.name for p in list_versions(adapters_dir)] == [V1, V2]
    assert says(out, f"Keeping the newest good version: {V1}.")
    assert says(
        out,
        f"Keeping {V2}: trained on another base, {wide_model_dir} ([model] base): a worker "
        "on that base serves it.",
    )
    assert says(out, "Nothing to remove.")
    # An older version of this base still goes: the other base's never counts among N.
    make_version(V3, seed=3)
    code, out = atri(config(tmp_path, tiny_model_dir), "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    assert [p.name for p in list_versions(adapters_dir)] == [V2, V3]


def test_a_rollback_guessed_without_the_token_goes_back_to_a_version_of_this_base(
    tmp_path: Path, make_version: MakeVersion, on_wide: MakeVersion, tiny_model_dir: Path,
    adapters_dir: Path,
) -> None:  # fmt: skip
    make_version(V1)
    on_wide(V2)
    make_version(V3, seed=3)
    # The worker serves V3 and names no loaded versions (no ATRI_ADMIN_TOKEN): with
    # keep_previous = 1 its rollback goes back to V1, passing V2 over as it refuses it.
    with worker_answering(serving(V3, None)) as url:
        cfg = config(tmp_path, tiny_model_dir, url)
        code, listed = atri(cfg, "adapters", "list")
        code_prune, out = atri(cfg, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0 and code_prune == 0, listed + out
    assert row(listed, V1).endswith("rollback")
    assert not row(listed, V2).endswith("rollback")
    # Was: V2 kept as what a rollback goes back to, V1 removed.
    assert [p.name for p in list_versions(adapters_dir)] == [V1, V2, V3]
    assert says(out, f"Keeping {V1}: a rollback on the worker at {url} goes back to it")
    assert says(out, f"Keeping {V2}: trained on another base")


def test_eval_without_a_version_takes_the_newest_of_this_base_and_names_those_passed_over(
    tmp_path: Path, make_version: MakeVersion, on_wide: MakeVersion, tiny_model_dir: Path,
    wide_model_dir: Path, adapters_dir: Path,
) -> None:  # fmt: skip
    make_version(V1)
    on_wide(V2)
    result = CliRunner().invoke(
        app, ["--config", str(config(tmp_path, tiny_model_dir)), "eval"], terminal_width=200
    )
    # Was: V2 chosen, then "was trained on base …, but [model] base is …".
    assert result.exit_code == 0, result.output
    assert says(
        result.output,
        f'{V1} is 亚托莉\'s newest version on [model] base "{tiny_model_dir}"; the newer '
        f'version {V2} (trained on base "{wide_model_dir}") passed over (evaluate it with '
        "the config it was trained with, --config).",
    )
    assert (adapters_dir / V1 / "eval.json").is_file()
    assert not (adapters_dir / V2 / "eval.json").exists()


def test_eval_without_a_version_of_this_base_is_one_sentence(
    tmp_path: Path, on_wide: MakeVersion, tiny_model_dir: Path, wide_model_dir: Path,
    adapters_dir: Path,
) -> None:  # fmt: skip
    on_wide(V2)
    result = CliRunner().invoke(
        app, ["--config", str(config(tmp_path, tiny_model_dir)), "eval"], terminal_width=200
    )
    assert result.exit_code == 1, result.output
    assert says(
        result.output,
        f"{adapters_dir} holds no adapter version of 亚托莉 trained on [model] base "
        f'"{tiny_model_dir}", only {V2} (trained on base "{wide_model_dir}")',
    )
    assert "Traceback" not in result.output

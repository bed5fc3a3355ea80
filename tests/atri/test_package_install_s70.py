"""Session 70: ATRI installed as a package (pip, a wheel, the sdist), not by setup.sh.

A pip user got no config.toml and no command that wrote one; the wheel named no license
file and the sdist carried no LICENSE, and tests without the files they read
(constraints.txt); `atri --version` left out the libraries not installed; 4-bit training
without bitsandbytes did not say how to get it; `python -m atri` in a folder holding a
`model.py` imported that file instead of ATRI's package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import CONFIG_ENV, TrainSettings, load_settings
from atri.config_init import commented_config
from bot import serve

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner(env={"COLUMNS": "400"})


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    return tmp_path


def test_the_packaged_config_is_the_top_level_config_toml() -> None:
    # Edit config.toml, then copy it over atri/default_config.toml: the package ships that.
    assert commented_config() == (REPO / "config.toml").read_bytes()


def test_config_init_writes_the_commented_config_here(in_tmp: Path) -> None:
    result = runner.invoke(app, ["config", "init"])

    assert result.exit_code == 0, result.output
    written = in_tmp / "config.toml"
    assert written.read_bytes() == (REPO / "config.toml").read_bytes()
    assert result.output.strip() == (
        "Wrote the commented config to config.toml; atri reads it when started in this folder."
    )
    assert load_settings().config_file == str(written)


def test_config_init_never_writes_over_a_file(in_tmp: Path) -> None:
    mine = in_tmp / "config.toml"
    mine.write_text('[memory]\npath = "mine.sqlite3"\n', encoding="utf-8")

    result = runner.invoke(app, ["config", "init"])

    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: config.toml already exists: it is left as it is; edit it, or give another path."
    )
    assert mine.read_text(encoding="utf-8") == '[memory]\npath = "mine.sqlite3"\n'


def test_config_init_into_a_folder_or_another_name(in_tmp: Path) -> None:
    (in_tmp / "bots").mkdir()
    into_folder = runner.invoke(app, ["config", "init", "bots"])
    assert into_folder.exit_code == 0, into_folder.output
    assert (in_tmp / "bots" / "config.toml").read_bytes() == commented_config()
    assert "when started in bots, or given as `atri --config" in into_folder.output

    named = runner.invoke(app, ["config", "init", "mio.toml"])
    assert named.exit_code == 0, named.output
    assert "atri reads it given as `atri --config mio.toml …` or by ATRI_CONFIG." in named.output


def test_config_init_writes_the_file_the_other_commands_would_read(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = runner.invoke(app, ["--config", "mio.toml", "config", "init"])
    assert given.exit_code == 0, given.output
    assert (in_tmp / "mio.toml").read_bytes() == commented_config()

    monkeypatch.setenv(CONFIG_ENV, "~/yuki.toml")
    monkeypatch.setenv("HOME", str(in_tmp))
    from_env = runner.invoke(app, ["config", "init"])
    assert from_env.exit_code == 0, from_env.output
    assert (in_tmp / "yuki.toml").read_bytes() == commented_config()
    assert not (in_tmp / "config.toml").exists()


def test_config_init_into_a_missing_folder_is_one_sentence(in_tmp: Path) -> None:
    result = runner.invoke(app, ["config", "init", "nowhere/config.toml"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: nowhere: no such folder; make it first, or give another path."
    )
    assert not (in_tmp / "nowhere").exists()


def test_the_built_in_defaults_line_names_the_command_that_writes_a_config(in_tmp: Path) -> None:
    told = f"config: built-in defaults (no config.toml in {in_tmp}; `atri config init` writes one)"
    assert serve.config_line("") == told


def test_version_says_which_reported_libraries_are_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.metadata as metadata

    installed = metadata.version

    def without_bots(name: str) -> str:
        if name in ("discord.py", "nonebot2"):
            raise metadata.PackageNotFoundError(name)
        return installed(name)

    monkeypatch.setattr(metadata, "version", without_bots)
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        f"llama-cpp-python {installed('llama-cpp-python')}, discord.py not installed, "
        "nonebot2 not installed)"
    )


def test_4bit_training_without_bitsandbytes_names_the_extra_that_installs_it() -> None:
    from model.training.errors import TrainError
    from model.training.hardware import plan_hardware

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert any(dep.startswith("bitsandbytes") for dep in extras["gpu"])
    with pytest.raises(TrainError) as refused:
        plan_hardware(TrainSettings(quantization="4bit"), "cpu")
    assert "the bitsandbytes package (ATRI's gpu extra: pip install 'atri[gpu]')" in str(
        refused.value
    )


def test_python_m_atri_does_not_import_a_model_py_of_the_working_folder(tmp_path: Path) -> None:
    for name in ("model.py", "bot.py"):
        (tmp_path / name).write_text('raise SystemExit("the user\'s file was imported")\n')
    done = subprocess.run(
        [sys.executable, "-m", "atri", "persona", "show"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != CONFIG_ENV} | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "imported" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("You are ATRI.")


# What a checkout holds besides the source that git ignores: never copied into a package.
NOT_SOURCE = {".git", ".venv", "data", "adapters", "out", "build", "dist", "atri.egg-info"}


def _source_copy(into: Path) -> Path:
    def ignored(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith("_cache")}
        skip |= {n for n in names if n.startswith(".hypothesis")}
        return skip | (NOT_SOURCE & set(names) if Path(folder) == REPO else set())

    copy = into / "atri-src"
    shutil.copytree(REPO, copy, ignore=ignored)
    return copy


def test_the_sdist_and_wheel_carry_the_license_config_and_what_the_tests_read(
    tmp_path: Path,
) -> None:
    source = _source_copy(tmp_path)
    out = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            # Read before building: setuptools' build_meta rewrites sys.argv.
            "import sys; out = sys.argv[1]; from setuptools import build_meta as b; "
            "b.build_sdist(out); b.build_wheel(out)",
            str(out),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (sdist_path,) = out.glob("*.tar.gz")
    (wheel_path,) = out.glob("*.whl")

    with tarfile.open(sdist_path) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    needed = {
        "LICENSE",
        "config.toml",
        "constraints.txt",
        "scripts/setup.sh",
        ".ci/run",
        "atri/default_config.toml",
        "tests/dataprep/fixtures/plain_zh.txt",
    }
    assert needed - members == set()
    tests = {
        p.relative_to(source).as_posix()
        for p in (source / "tests").rglob("*")
        if p.is_file() and not p.name.endswith(".pyc")
    }
    assert tests - members == set(), "the sdist carries only part of tests/"

    dist_info = "-".join(wheel_path.name.split("-")[:2]) + ".dist-info"
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert "atri/default_config.toml" in names
    assert f"{dist_info}/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    assert "Copyright (c) 2026 the ATRI contributors" in (REPO / "LICENSE").read_text()

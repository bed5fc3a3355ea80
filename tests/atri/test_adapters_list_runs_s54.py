"""`atri adapters list` names `.runs/` only where it holds checkpoints: every finished
`atri train` leaves the folder behind, empty (on Windows with its runs' lock files), and
the listing said "adapters/.runs: 0 KiB of checkpoints for `atri train --resume`" after
each, of checkpoints that were not there."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.terminal import suggested_command
from model.adapters.versions import RUNS_DIR
from tests.cli_output import says
from tests.model.adapters.make_versions import base_config_hash, write_version

runner = CliRunner(env={"COLUMNS": "400", "ATRI_ADMIN_TOKEN": None, "ATRI_CONFIG": None})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config(tmp_path: Path, tiny_model_dir: Path) -> Path:
    write_version(
        tmp_path / "adapters",
        "20250101-000001",
        tiny_model_dir,
        base_model=str(tiny_model_dir),
        config_hash=base_config_hash(tiny_model_dir),
        character="ATRI",
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\nadapters_dir = "adapters"\n'
        f'[worker]\nurl = "http://127.0.0.1:{closed_port()}"\n',
        encoding="utf-8",
    )
    return path


def listed(config: Path) -> str:
    result = runner.invoke(app, ["--config", str(config), "adapters", "list"])
    assert result.exit_code == 0, result.output
    assert "20250101-000001" in result.output
    return result.output


@pytest.mark.parametrize("left", ["nothing", "a lock file"])
def test_a_runs_folder_without_checkpoints_is_not_named(config: Path, left: str) -> None:
    runs = config.parent / "adapters" / RUNS_DIR
    runs.mkdir()
    if left == "a lock file":
        (runs / "f00d.lock").touch()

    assert ".runs" not in listed(config)


def test_checkpoints_are_named_with_their_size(config: Path) -> None:
    run = config.parent / "adapters" / RUNS_DIR / "f00d"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-2" / "optimizer.pt").write_bytes(b"\0" * 3 * 2**20)
    (run.parent / "f00d.lock").touch()

    out = listed(config)

    # The command as the user must type it: under this (not the default) config.
    resume = suggested_command(config, "train", "--resume")
    assert says(out, f"{run.parent}: 3.0 MiB of checkpoints for `{resume}`")

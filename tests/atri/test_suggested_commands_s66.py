"""The `atri …` commands ATRI suggests run as suggested when pasted into a shell. In a
folder such as `我的 ATRI 项目` they were not quoted (`atri eval /x/我的 ATRI 项目/…` is
"Got unexpected extra argument(s)"), and under `--config "config re.toml"` they left the
config out: pasted, `atri adapters adopt` adopted into the current folder's adapters
under the built-in defaults, and `atri train --resume` looked for another dataset."""

from __future__ import annotations

import json
import logging
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import ReloadSettings, load_settings
from atri.terminal import suggested_command
from model.adapters.inventory import versions_on_disk
from model.adapters.reload import Reloader
from model.adapters.validation import ADAPTER_FILES, AdapterError, eval_figures
from model.service import ChatService
from model.training.errors import TrainingInterrupted
from tests.model.adapters.make_versions import base_config_hash, write_version
from tests.model.conftest import V1

# A project folder and a config named as the reviewer's, with a quote and a `$` too.
PROJECT = "我的 ATRI 项目"
CONFIG = 'config re\'s "$HOME".toml'


def suggested(sentence: str, command: str) -> list[str]:
    """The argv of the one backquoted `atri … command …` in `sentence`."""
    (quoted,) = [c for c in re.findall(r"`([^`]*)`", sentence) if f" {command}" in c]
    return shlex.split(quoted)


def project(tmp_path: Path, tiny_model_dir: Path, *lines: str) -> Path:
    """A config in a folder with spaces, quotes and CJK in its name; its adapters beside."""
    config = tmp_path / PROJECT / CONFIG
    config.parent.mkdir()
    body = ["[model]", f"base = {json.dumps(str(tiny_model_dir))}", *lines]
    config.write_text("\n".join(body) + "\n", encoding="utf-8")
    return config


def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paste in another folder, with no config of its own: only --config finds ours."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("ATRI_CONFIG", raising=False)


def test_a_suggested_command_quotes_each_argument_and_names_the_config(tmp_path: Path) -> None:
    folder = tmp_path / PROJECT / "adapters" / "bare (it's) #1"
    line = suggested_command(str(tmp_path / CONFIG), "adapters", "adopt", folder)
    assert shlex.split(line) == [
        "atri",
        "--config",
        str(tmp_path / CONFIG),
        "adapters",
        "adopt",
        str(folder),
    ]
    assert shlex.split(suggested_command("", "eval", folder)) == ["atri", "eval", str(folder)]


def test_the_config_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shlex.split(suggested_command(CONFIG, "train"))[:3] == [
        "atri",
        "--config",
        str(tmp_path / CONFIG),
    ]


def test_a_bare_peft_folder_is_adopted_under_the_workers_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    adapters = tmp_path / PROJECT / "adapters"
    bare = adapters / "bare (it's) #1"
    bare.mkdir(parents=True)
    for name in ADAPTER_FILES:
        (bare / name).write_text("{}", encoding="utf-8")
    config = str(tmp_path / PROJECT / CONFIG)
    job = Reloader(ReloadSettings(), adapters, tmp_path, None, "", "", config_file=config)
    with caplog.at_level(logging.WARNING, logger="model.adapters.reload"):
        job._log_bare_folders()
    (said,) = [r.getMessage() for r in caplog.records if "peft adapter" in r.getMessage()]
    # Before: `atri adapters adopt '…/bare (it'"'"'s) #1'`, no --config.
    argv = ["atri", "--config", config, "adapters", "adopt", str(bare)]
    assert suggested(said, "adopt") == argv


def test_a_broken_evaluation_names_the_config_in_its_atri_eval(tmp_path: Path) -> None:
    version = tmp_path / PROJECT / "adapters" / V1
    version.mkdir(parents=True)
    (version / "eval.json").write_text('{"adapter_version": "2026', encoding="utf-8")
    config = str(tmp_path / PROJECT / CONFIG)
    with pytest.raises(AdapterError) as refused:
        eval_figures(version, config)
    # Before: "run `atri eval /…/我的 ATRI 项目/adapters/<v>` again".
    assert suggested(str(refused.value), "eval") == [
        "atri",
        "--config",
        config,
        "eval",
        str(version),
    ]


async def test_the_require_eval_refusal_runs_as_pasted_from_another_folder(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project(
        tmp_path,
        tiny_model_dir,
        "[reload]",
        "enabled = false",
        "require_eval = true",
        "[worker]",
        "ooc_max_retries = 0",
        "[eval]",
        "max_new_tokens = 2",
    )
    settings = load_settings(config)
    adapters = settings.path(settings.model.adapters_dir)
    hash_ = base_config_hash(tiny_model_dir)
    version = write_version(
        adapters, V1, tiny_model_dir, base_model=str(tiny_model_dir), config_hash=hash_
    )
    intended = ["atri", "--config", str(config), "eval", str(version)]

    (listed,) = versions_on_disk(adapters, require_eval=True, config_file=settings.config_file)
    assert suggested(listed.reason, "eval") == intended
    async with await ChatService.open(settings) as service:
        refused = await service.reload(V1)
    assert not refused.ok
    # Before: `atri eval /…/我的 ATRI 项目/adapters/<v>`, unquoted and without --config.
    argv = suggested(refused.message, "eval")
    assert argv == intended

    elsewhere(tmp_path, monkeypatch)
    evaluated = CliRunner().invoke(app, argv[1:])
    assert evaluated.exit_code == 0, evaluated.output
    assert (version / "eval.json").is_file()
    (listed,) = versions_on_disk(adapters, require_eval=True, config_file=settings.config_file)
    assert listed.refused == ""


def test_ctrl_c_in_training_names_the_config_in_its_resume(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.training.runner

    def interrupted(*args: object, **kwargs: object) -> None:
        raise TrainingInterrupted(1)

    monkeypatch.setattr(model.training.runner, "train", interrupted)
    config = project(tmp_path, tiny_model_dir)
    elsewhere(tmp_path, monkeypatch)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["-c", str(config), "train"])
    assert result.exit_code == 130, result.output
    # Before: `atri train --resume`, which pasted here reads another config's dataset.
    argv = ["atri", "--config", str(config), "train", "--resume"]
    assert suggested(result.output, "train") == argv

"""`atri eval` in a file or a pipe says what it is doing as each stage begins (loading
the base, the adapter, each model's perplexity and probes), and says it again while a
stage runs long: on a loaded 2-core machine a piped run printed nothing for 6.5 minutes,
the phase lines swallowed by the 30 s throttle and the loading said by no line."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.cli_common import CliConsole
from atri.config import Settings
from model.adapters.versions import sha256_file
from model.engines.local import LocalEngine
from model.evaluation.progress import RichProbeProgress
from model.evaluation.runner import evaluate
from tests.model.conftest import V1, MakeVersion
from tests.model.training.sharegpt import conversation, write

PAIRS = [("Who are you?", "A robot."), ("Hungry?", "Not at all.")]
PROBES = "".join(f'[[probe]]\ncategory = "identity"\nen = "Question {i}?"\n' for i in range(3))
# A dated plain line, as `model.progress_bar.Bar` prints it.
DATED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} (.*)$")


def _data(root: Path) -> tuple[Path, Path]:
    """(the training file, its held-out file) under `root`, and the probe set."""
    data = root / "data"
    train = write(data / "atri_sharegpt.json", [conversation(PAIRS, "You are ATRI.")] * 2)
    held_out = write(data / "atri_sharegpt_eval.json", [conversation(PAIRS, "You are ATRI.")] * 2)
    (root / "probes.toml").write_text(PROBES, encoding="utf-8")
    return train, held_out


def _version(make_version: MakeVersion, held_out: Path) -> Path:
    # As training records it: the held-out file it was trained beside, so it is scored.
    return make_version(
        V1, eval_dataset_sha256=sha256_file(held_out), eval_dataset_file=str(held_out)
    )


def _plain_lines(output: str) -> list[str]:
    return [m.group(1) for line in output.splitlines() if (m := DATED.match(line))]


def test_a_piped_eval_says_each_stage_as_it_begins(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    """Within the 30 s of the first line every stage still has its own line, the loading
    included; the run said "base: held-out perplexity" and then nothing until the end."""
    _, held_out = _data(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\n[train]\ndataset = "data/atri_sharegpt.json"\n'
        '[eval]\nmax_new_tokens = 1\nbatch_size = 1\nprobes = "probes.toml"\n',
        encoding="utf-8",
    )
    _version(make_version, held_out)
    result = CliRunner().invoke(app, ["--config", str(config), "eval"], terminal_width=200)
    assert result.exit_code == 0, result.output
    # The version is named before transformers is imported (tens of seconds when loaded).
    assert f"Evaluating {V1} against its base model, {tiny_model_dir}…" in result.output
    stages = [line.split(" 0/6")[0].split(" 3/6")[0] for line in _plain_lines(result.output)]
    assert stages[:6] == [
        "loading the base model",
        "loading the adapter",
        "base: held-out perplexity",
        "base: probes",
        "adapter: held-out perplexity",
        "adapter: probes",
    ], result.output
    # Each at its stage's start: before any reply of that stage is counted.
    assert "adapter: probes 3/6 replies" in _plain_lines(result.output)[5]
    # Batches are still throttled (a line at most every 30 s): one per stage, and the end.
    assert _plain_lines(result.output)[-1].startswith("adapter: probes 6/6 replies, done in")
    assert len(_plain_lines(result.output)) == 7, result.output


def test_a_long_stage_is_said_again_while_it_runs(
    reload_settings: Settings,
    make_version: MakeVersion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of replies that takes minutes (here: longer than the quiet limit) gets a
    line saying it still runs; on a terminal, rich's bar and no such line."""
    train, held_out = _data(tmp_path)
    reload_settings.train.dataset = str(train)
    reload_settings.eval.max_new_tokens = 1
    reload_settings.eval.batch_size = 3
    version = _version(make_version, held_out)
    real_generate = LocalEngine.generate_sync

    def slow_generate(self: LocalEngine, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)  # a slow machine's first batch
        return real_generate(self, *args, **kwargs)

    monkeypatch.setattr(LocalEngine, "generate_sync", slow_generate)
    out = io.StringIO()
    bar = RichProbeProgress(CliConsole(file=out, emoji=False), quiet_limit=0.2)
    evaluate(reload_settings, version, tmp_path / "probes.toml", bar=bar)
    lines = _plain_lines(out.getvalue())
    still = [line for line in lines if "still at it" in line]
    assert any(line.startswith("base: probes 0/6 replies; still at it, 0:00:0") for line in still)
    assert any(line.startswith("adapter: probes 3/6 replies") for line in still), lines
    # Not after the last reply: only the end's line, without the note.
    assert lines[-1].startswith("adapter: probes 6/6 replies, done in") and "still" not in lines[-1]
    assert bar.watcher is None  # stopped with the bar

    # On a terminal: the bar alone, no watcher and no plain lines.
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = io.StringIO()
    live = RichProbeProgress(CliConsole(file=tty, force_terminal=True, emoji=False), 0.2)
    evaluate(reload_settings, version, tmp_path / "probes.toml", bar=live)
    assert not _plain_lines(tty.getvalue()) and "still at it" not in tty.getvalue()

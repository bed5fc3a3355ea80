"""`atri eval --dataset FILE` sets the probe replies' style beside that file's, as its
help says; it was ignored whenever a held-out file existed, and the table's "(dataset
…)" was the held-out file's rate."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from model.adapters.versions import sha256_file
from model.evaluation.style import style_rate
from tests.model.conftest import V1, MakeVersion
from tests.model.training.sharegpt import conversation, write

PLAIN = [("Who are you?", "A robot."), ("Hungry?", "Not at all.")]
CRABBY = [("Who are you?", "A crab-loving crab robot."), ("Hungry?", "Crab, please!")]


def _setup(tmp_path: Path, model_dir: Path) -> Path:
    data = tmp_path / "data"
    write(data / "atri_sharegpt.json", [conversation(PLAIN, "You are ATRI.")] * 2)
    write(data / "atri_sharegpt_eval.json", [conversation(PLAIN, "You are ATRI.")] * 2)
    write(data / "style.json", [conversation(CRABBY, "You are ATRI.")] * 2)
    (tmp_path / "probes.toml").write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你是谁？"\nen = "Who are you?"\n', encoding="utf-8"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{model_dir}"\n'
        '[train]\ndataset = "data/atri_sharegpt.json"\n'
        '[eval]\nmax_new_tokens = 1\nprobes = "probes.toml"\nstyle_markers = ["crab"]\n',
        encoding="utf-8",
    )
    return config


def test_the_dataset_given_is_the_style_reference_and_the_report_names_each_file(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    config = _setup(tmp_path, tiny_model_dir)
    style = tmp_path / "data" / "style.json"
    held_out = tmp_path / "data" / "atri_sharegpt_eval.json"
    # As training records it: the held-out file the version was trained beside.
    version = make_version(
        V1, eval_dataset_sha256=sha256_file(held_out), eval_dataset_file=str(held_out)
    )
    result = CliRunner().invoke(
        app, ["--config", str(config), "eval", "--dataset", str(style)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    report = json.loads((version / "eval.json").read_text(encoding="utf-8"))
    expected = style_rate([a for _, a in CRABBY] * 2, ["crab"])
    assert expected > 0 and report["dataset_style_rate"] == expected
    # The perplexity stays on the held-out file; each figure's file is named.
    assert report["held_out_file"] == str(held_out) and report["style_file"] == str(style)
    assert f"style markers / 100 chars (style.json {expected:.2f})" in result.output
    assert "held-out perplexity (atri_sharegpt_eval.json)" in result.output
    md = (version / "eval.md").read_text(encoding="utf-8")
    assert f"held-out perplexity on {held_out}; dataset style rate from {style}" in md

    # Without --dataset: the held-out file's style, and said so.
    result = CliRunner().invoke(app, ["--config", str(config), "eval"], terminal_width=200)
    assert result.exit_code == 0, result.output
    report = json.loads((version / "eval.json").read_text(encoding="utf-8"))
    assert report["dataset_style_rate"] == 0 and report["style_file"] == str(held_out)
    assert "style markers / 100 chars (atri_sharegpt_eval.json 0.00)" in result.output

"""`atri eval` refuses a version trained on another base, by the reload job's rule: a
base folder named by a relative path and by an absolute one is the same base."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.versions import MANIFEST_FORMAT
from model.evaluation.probes import ProbeError
from model.evaluation.runner import EvalError, eval_conversations, evaluate


def _version(tmp_path: Path, base: str) -> Path:
    folder = tmp_path / "adapters" / "20261201-000000"
    folder.mkdir(parents=True)
    manifest = {"format": MANIFEST_FORMAT, "base_model": base}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_relative_and_an_absolute_path_to_one_base_folder_are_one_base(
    tmp_path: Path, settings: Settings
) -> None:
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    settings.model.base = str(tmp_path / "models" / "tiny")
    version = _version(tmp_path, "./models/tiny")
    # Past the base check, the next step reads the probe file: its error proves it.
    with pytest.raises(ProbeError, match="probe file not found"):
        evaluate(settings, version, probes_path=tmp_path / "missing.toml")


def test_a_version_of_another_base_is_one_sentence(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "other").mkdir()
    settings.model.base = str(tmp_path / "models" / "tiny")
    version = _version(tmp_path, "./models/other")
    with pytest.raises(EvalError, match=re.escape('was trained on base "./models/other"')):
        evaluate(settings, version, probes_path=tmp_path / "missing.toml")


def test_a_missing_held_out_file_names_the_eval_dataset_flag(
    tmp_path: Path, settings: Settings
) -> None:
    settings.train.eval_dataset = str(tmp_path / "gone_eval.json")
    with pytest.raises(
        EvalError, match=r"gone_eval.json: held-out file not found; fix --eval-dataset"
    ):
        eval_conversations(settings)
    (tmp_path / "folder").mkdir()
    settings.train.eval_dataset = str(tmp_path / "folder")
    with pytest.raises(EvalError, match="is a folder, not a file; fix --eval-dataset"):
        eval_conversations(settings)


def test_a_held_out_file_that_is_the_training_file_is_said(
    tmp_path: Path, settings: Settings
) -> None:
    """`atri eval --eval-dataset <the training file>` reported a "held-out" perplexity of
    the very data the adapter learned, with no word."""
    from model.adapters.versions import sha256_file

    (tmp_path / "models" / "tiny").mkdir(parents=True)
    settings.model.base = str(tmp_path / "models" / "tiny")
    train = tmp_path / "atri_sharegpt.json"
    train.write_text("[]", encoding="utf-8")
    (tmp_path / "atri_sharegpt_eval.json").write_text("[ ]", encoding="utf-8")
    version = _version(tmp_path, "./models/tiny")
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(version=version.name, dataset_sha256=sha256_file(train))
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    settings.train.dataset = str(train)
    for eval_dataset, warned in (("", False), (str(train), True)):
        settings.train.eval_dataset = eval_dataset
        said: list[str] = []
        # Past the note, the next step reads the probe file: its error ends the run here.
        with pytest.raises(ProbeError):
            evaluate(settings, version, probes_path=tmp_path / "x.toml", progress=said.append)
        flagged = [m for m in said if f"is the file {version.name} was trained on" in m]
        assert bool(flagged) is warned, said

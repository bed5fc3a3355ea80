"""`atri eval` scores a version on the held-out file it was trained beside: a version
trained with `--dataset other.json` is not scored on the configured character's set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.versions import MANIFEST_FORMAT, sha256_file
from model.evaluation.probes import ProbeError
from model.evaluation.runner import evaluate, version_held_out


def _files(tmp_path: Path, settings: Settings) -> tuple[Path, Path]:
    """The configured dataset's held-out file and another dataset's."""
    for stem, body in (("atri_sharegpt", "[1]"), ("other", "[2]")):
        (tmp_path / f"{stem}.json").write_text(body, encoding="utf-8")
        (tmp_path / f"{stem}_eval.json").write_text(body + " ", encoding="utf-8")
    settings.train.dataset = str(tmp_path / "atri_sharegpt.json")
    settings.train.eval_dataset = ""
    return tmp_path / "atri_sharegpt_eval.json", tmp_path / "other_eval.json"


def _manifest(trained_beside: Path) -> dict[str, object]:
    return {
        "version": "20261201-000000",
        "eval_dataset_sha256": sha256_file(trained_beside),
        "eval_dataset_file": str(trained_beside),
    }


def test_a_version_trained_on_another_dataset_is_scored_on_its_own_held_out_file(
    tmp_path: Path, settings: Settings
) -> None:
    configured, other = _files(tmp_path, settings)
    chosen, note = version_held_out(settings, _manifest(other))
    assert chosen == other
    assert f"on {other}, the held-out file it was trained beside" in note
    # Trained on the configured dataset: its file, without a word.
    assert version_held_out(settings, _manifest(configured)) == (configured, "")


def test_a_held_out_file_named_by_the_user_wins(tmp_path: Path, settings: Settings) -> None:
    configured, other = _files(tmp_path, settings)
    settings.train.eval_dataset = str(configured)  # --eval-dataset or [train] eval_dataset
    assert version_held_out(settings, _manifest(other)) == (configured, "")


def test_a_changed_or_gone_held_out_file_is_said(tmp_path: Path, settings: Settings) -> None:
    configured, other = _files(tmp_path, settings)
    manifest = _manifest(other)
    other.write_text("[3]", encoding="utf-8")  # rewritten since training
    chosen, note = version_held_out(settings, manifest)
    assert chosen == configured
    assert "is not the held-out file 20261201-000000 was trained beside" in note
    other.unlink()
    assert version_held_out(settings, manifest)[1] == note
    # A version from before manifests recorded the file, trained without a held-out set:
    assert version_held_out(settings, {"version": "v"}) == (configured, "")


def test_atri_eval_says_which_file_it_scores(tmp_path: Path, settings: Settings) -> None:
    _, other = _files(tmp_path, settings)
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    settings.model.base = str(tmp_path / "models" / "tiny")
    version = tmp_path / "adapters" / "20261201-000000"
    version.mkdir(parents=True)
    manifest = {"format": MANIFEST_FORMAT, "base_model": "./models/tiny", **_manifest(other)}
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    said: list[str] = []
    # Past the note, the next step reads the probe file: its error ends the run here.
    with pytest.raises(ProbeError):
        evaluate(settings, version, probes_path=tmp_path / "x.toml", progress=said.append)
    assert any("the held-out file it was trained beside" in m for m in said), said

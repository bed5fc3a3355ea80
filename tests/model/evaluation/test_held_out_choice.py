"""`atri eval` scores a version on the held-out file it was trained beside: a version
trained with `--dataset other.json` is not scored on the configured character's set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from model.adapters.versions import MANIFEST_FORMAT, sha256_file
from model.evaluation.probes import ProbeError
from model.evaluation.runner import evaluate, version_held_out
from tests.cli_output import says
from tests.model.conftest import V1, MakeVersion
from tests.model.training.sharegpt import write, zh_dataset


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
    # Trained on the configured dataset, whose held-out file was rewritten since: scored on
    # the new one (the same dataset's), said.
    manifest = {**_manifest(configured), "dataset_sha256": sha256_file(_train(configured))}
    configured.write_text("[3]", encoding="utf-8")
    chosen, note = version_held_out(settings, manifest)
    assert chosen == configured
    assert "is not the held-out file 20261201-000000 was trained beside" in note
    # Trained on another dataset whose held-out file is gone: the configured one may be
    # anyone's, so no perplexity on it, and the sentence says what was checked.
    manifest = {**_manifest(other), "dataset_sha256": sha256_file(_train(other))}
    other.unlink()
    chosen, note = version_held_out(settings, manifest)
    assert chosen is None
    assert note == (
        "No held-out perplexity for 20261201-000000: the held-out file it was trained beside "
        f"({other}) has changed or is gone, and {configured} may be another dataset's, as "
        f"{_train(configured)} beside it is not the file 20261201-000000 was trained on (its "
        "sha256 differs from the manifest's dataset_sha256); pass --eval-dataset "
        f"{configured} to score it on that file anyway."
    )


def _train(held_out: Path) -> Path:
    return held_out.with_name(held_out.name.replace("_eval", ""))


def test_a_version_trained_without_a_held_out_file_is_not_scored_on_another_dataset_s(
    tmp_path: Path, settings: Settings
) -> None:
    """Its manifest has no held-out hash: the configured held-out file is used only
    beside the very file it was trained on; it was used whatever dataset it was of."""
    configured, other = _files(tmp_path, settings)
    trained_on_other = {"version": "v", "eval_dataset_sha256": None}
    trained_on_other["dataset_sha256"] = sha256_file(_train(other))
    chosen, note = version_held_out(settings, trained_on_other)
    assert chosen is None
    assert note.startswith("No held-out perplexity for v: its manifest records no held-out file")
    assert (
        f"{configured} may be another dataset's, as {_train(configured)} beside it is not" in note
    )
    assert f"pass --eval-dataset {configured}" in note and "\n" not in note
    # Older manifests record neither hash: nothing to check against, said so.
    chosen, note = version_held_out(settings, {"version": "v"})
    assert chosen is None
    assert "its manifest records no hash of its training file to check" in note
    # Trained on the configured dataset itself (before its held-out file was written):
    # that file is its dataset's, scored without a word.
    trained_here = {"version": "v", "dataset_sha256": sha256_file(_train(configured))}
    assert version_held_out(settings, trained_here) == (configured, "")
    # Named by the user: used as given.
    settings.train.eval_dataset = str(configured)
    assert version_held_out(settings, trained_on_other) == (configured, "")


def test_atri_eval_leaves_out_the_perplexity_it_cannot_vouch_for(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    """End to end: the probes are still asked, the perplexity is n/a, the sentence said;
    --eval-dataset scores it on the file after all."""
    data = tmp_path / "data"
    write(data / "atri_sharegpt.json", zh_dataset(4))
    held_out = write(data / "atri_sharegpt_eval.json", zh_dataset(3))
    (tmp_path / "probes.toml").write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你是谁？"\nen = "Who are you?"\n', encoding="utf-8"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{tiny_model_dir}"\n[train]\ndataset = "data/atri_sharegpt.json"\n'
        '[eval]\nmax_new_tokens = 1\nprobes = "probes.toml"\n',
        encoding="utf-8",
    )
    version = make_version(V1, eval_dataset_sha256=None)  # trained on another file ("0" * 64)
    result = CliRunner().invoke(app, ["--config", str(config), "eval"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert says(
        result.output,
        f"No held-out perplexity for {V1}: its manifest records no held-out file, and {held_out} may be another dataset's",
    )
    report = json.loads((version / "eval.json").read_text(encoding="utf-8"))
    assert report["base"]["perplexity"] is None and report["adapter"]["perplexity"] is None
    assert report["held_out_file"] == "" and report["probes"] == 1

    result = CliRunner().invoke(
        app, ["--config", str(config), "eval", "--eval-dataset", str(held_out)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "No held-out perplexity" not in result.output
    report = json.loads((version / "eval.json").read_text(encoding="utf-8"))
    assert report["adapter"]["perplexity"] > 0 and report["held_out_file"] == str(held_out)


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

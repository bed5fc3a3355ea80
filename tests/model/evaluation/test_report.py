"""eval.md and eval.json name the character the eval ran with, whoever she is."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import Settings
from model.adapters.validation import EvalFigures, eval_figures
from model.evaluation.report import EvalReport, ModelFigures
from model.evaluation.runner import evaluate
from tests.model.conftest import V1, MakeVersion


def _report(character: str = "Eileen", language: str = "en") -> EvalReport:
    return EvalReport(
        adapter_version=V1,
        base=ModelFigures(None, 0.5, 1.0),
        adapter=ModelFigures(None, 0.25, 2.0),
        dataset_style_rate=1.5,
        probes=4,
        language=language,
        created_at="2026-01-01T00:00:00+00:00",
        character=character,
    )


def test_the_report_is_titled_with_her_name_not_the_projects() -> None:
    """A user training Eileen got "# ATRI adapter …" on her report."""
    text = _report().markdown()
    assert text.startswith(f"# Eileen adapter {V1}: evaluation\n")
    assert "ATRI" not in text


def test_an_unknown_language_or_character_is_not_given_a_placeholder() -> None:
    """It said "in the dataset language", though the probes are asked in the card's."""
    text = _report(character="", language="").markdown()
    assert text.startswith(f"# LoRA adapter {V1}: evaluation\n")
    assert "\n4 probes; created 2026-01-01" in text
    assert "dataset language" not in text


def test_the_reload_job_reads_a_new_report_and_an_old_one_alike(tmp_path: Path) -> None:
    folder = tmp_path / V1  # the version the report is of
    folder.mkdir()
    (folder / "eval.json").write_text(json.dumps(_report().as_dict()), encoding="utf-8")
    assert eval_figures(folder) == EvalFigures(0.25, 0.5, 4)
    old = _report().as_dict()
    del old["character"]  # written before the field existed
    (folder / "eval.json").write_text(json.dumps(old), encoding="utf-8")
    assert eval_figures(folder) == EvalFigures(0.25, 0.5, 4)


def test_atri_eval_names_the_character_of_the_card_it_ran_with(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A girl."}}
    (tmp_path / "eileen.json").write_text(json.dumps(card), encoding="utf-8")
    reload_settings.persona.card = "eileen.json"
    reload_settings.eval.max_new_tokens = 1
    probes = tmp_path / "probes.toml"
    probes.write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你是谁？"\nen = "Who are you?"\n', encoding="utf-8"
    )
    version = make_version(V1)
    report = evaluate(reload_settings, version, probes)
    assert report.character == "Eileen"
    assert json.loads((version / "eval.json").read_text(encoding="utf-8"))["character"] == "Eileen"
    assert (version / "eval.md").read_text(encoding="utf-8").startswith("# Eileen adapter")


def test_a_report_listing_no_replies_does_not_say_none_was_flagged() -> None:
    """With `[eval] worst_examples = 0` the table said 25% out of character and the text
    under it "No probe reply was flagged out of character"."""
    text = _report().markdown()  # flagged rates, no `worst` listed
    assert "No probe reply was flagged" not in text
    assert "not listed ([eval] worst_examples = 0)" in text


def test_the_report_names_the_probes_language_in_words() -> None:
    assert "4 probes in English" in _report().markdown()

"""What the reload job gates on can be trusted: two versions' out-of-character rates are
set side by side only where both were measured with the same probes and reply length (a
trial `atri eval --probes` of the live version made the next comparison one of two
yardsticks); a probe set too small to refuse anything, and a missing held-out file, are
said."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.validation import EvalFigures, eval_figures
from model.evaluation.probes import FEW_PROBES, few_probes_note
from model.evaluation.runner import evaluate, version_held_out
from model.service import ChatService
from tests.model.conftest import V1, V2, V3, MakeVersion


def evaluated(version: Path, adapter: float, base: float, probe_set: str, longest: int) -> Path:
    report = {
        "adapter_version": version.name,
        "adapter": {"ooc_rate": adapter},
        "base": {"ooc_rate": base},
        "probes": 400,  # enough replies that the noise allowance stays small
        "probe_set": probe_set,
        "max_new_tokens": longest,
    }
    (version / "eval.json").write_text(json.dumps(report), encoding="utf-8")
    return version


def test_eval_json_records_its_yardstick_and_the_job_reads_it(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    reload_settings.eval.max_new_tokens = 2
    probes = tmp_path / "probes.toml"
    probes.write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你是谁？"\nen = "Who are you?"\n', encoding="utf-8"
    )
    version = make_version(V1)
    evaluate(reload_settings, version, probes)
    first = eval_figures(version)
    assert first.yardstick is not None and first.yardstick[1] == 2
    probes.write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你好"\nen = "Hello there"\n', encoding="utf-8"
    )
    evaluate(reload_settings, version, probes)
    other = eval_figures(version).yardstick
    assert other is not None and other[0] != first.yardstick[0]  # other probes, other print


async def test_a_live_version_measured_otherwise_is_not_the_yardstick(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    reload_settings.reload.max_ooc_rate_increase = 0.05
    evaluated(make_version(V1), 0.05, 0.50, "trial-two-probes", 8)
    # Against V1's 5% V2's 30% is far worse; against the base in its own run it is better.
    evaluated(make_version(V2, seed=2), 0.30, 0.50, "packaged", 96)
    # Measured as V2 was, V3 is far worse than V2 and is refused.
    evaluated(make_version(V3, seed=3), 0.60, 0.50, "packaged", 96)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        with caplog.at_level(logging.WARNING):
            assert (await service.reload(V2)).ok
        assert "different probe sets or [eval] max_new_tokens" in caplog.text
        refused = await service.reload(V3)
        assert not refused.ok and "60.0%" in refused.message and "30.0%" in refused.message


async def test_with_none_live_an_older_version_measured_otherwise_is_passed_over(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    """A worker starting sets the newest version beside the newest older one measured as
    it was, not beside one measured with other probes."""
    reload_settings.reload.max_ooc_rate_increase = 0.05
    evaluated(make_version(V1), 0.20, 0.50, "packaged", 96)
    evaluated(make_version(V2, seed=2), 0.01, 0.50, "trial", 8)
    evaluated(make_version(V3, seed=3), 0.22, 0.50, "packaged", 96)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V3)).ok  # beside V1's 20%, not V2's 1%


def test_an_eval_json_from_before_the_yardstick_is_still_read(tmp_path: Path) -> None:
    folder = tmp_path / V1
    folder.mkdir()
    old = {"adapter": {"ooc_rate": 0.1}, "base": {"ooc_rate": 0.2}, "probes": 21}
    (folder / "eval.json").write_text(json.dumps(old), encoding="utf-8")
    assert eval_figures(folder) == EvalFigures(0.1, 0.2, 21, None)


def test_a_probe_set_too_small_for_the_gate_is_said(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    """One probe made the gate's allowance for chance ~116 points: it could never refuse."""
    reload_settings.eval.max_new_tokens = 1
    probes = tmp_path / "one.toml"
    probes.write_text('[[probe]]\nen = "Who are you?"\nzh = "你是谁？"\n', encoding="utf-8")
    said: list[str] = []
    evaluate(reload_settings, make_version(V1), probes, progress=said.append)
    note = next(line for line in said if line.startswith("Only 1 probe:"))
    assert "moves the out-of-character rate by 100 points" in note
    assert "(the packaged set has 21)" in note
    assert few_probes_note(FEW_PROBES) == ""


def test_no_held_out_file_says_why_there_is_no_perplexity(
    reload_settings: Settings, tmp_path: Path
) -> None:
    """Prepared with eval_ratio = 0, the table's "n/a" came with no reason."""
    reload_settings.train.dataset = str(tmp_path / "atri_sharegpt.json")
    reload_settings.train.eval_dataset = ""
    (tmp_path / "atri_sharegpt.json").write_text("[]", encoding="utf-8")
    chosen, note = version_held_out(reload_settings, {"version": V1})
    assert chosen is None
    assert note == (
        f"No held-out perplexity for {V1}: there is no held-out file beside "
        "atri_sharegpt.json (written by `atri prep` when [dataprep] eval_ratio is above 0); "
        "pass --eval-dataset FILE to score it on one."
    )


def test_held_out_conversations_are_scored_at_the_length_the_version_was_trained_at(
    reload_settings: Settings,
) -> None:
    """A version trained with --max-seq-length 2048 had its whole held-out set left out
    under the config's 1024, and `atri eval` has no flag to raise it."""
    from model.evaluation.runner import _scored_length

    reload_settings.train.max_seq_length = 1024
    assert _scored_length(reload_settings, {"settings": {"max_seq_length": 2048}}) == 2048
    assert _scored_length(reload_settings, {"settings": {"max_seq_length": 512}}) == 1024
    assert _scored_length(reload_settings, {"settings": {"max_seq_length": "2048"}}) == 1024
    assert _scored_length(reload_settings, {}) == 1024


def test_a_version_folder_that_cannot_be_written_is_said_before_probing(
    reload_settings: Settings, make_version: MakeVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only folder was found only after both models had answered every probe."""
    import os

    from model.evaluation import runner
    from model.evaluation.runner import EvalError

    version = make_version(V1)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != version)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(runner, "_engine_with_adapter", never)
    with pytest.raises(
        EvalError, match=r"Cannot write the evaluation into .*nothing was evaluated"
    ):
        evaluate(reload_settings, version)

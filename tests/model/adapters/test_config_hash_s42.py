"""A version trained on a base of another config is refused by one rule and one sentence
wherever it is loaded: `[model] adapter` at start, the reload job, and `atri eval`."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import ConfigError, Settings
from model.evaluation.runner import EvalError, evaluate
from model.service import ChatService
from tests.model.conftest import V1, MakeVersion

OTHER_HASH = "0123456789abcdef"


def _refusal(tiny_model_dir: Path, tiny_hash: str) -> str:
    return (
        f"was trained on {str(tiny_model_dir)!r}, a base model with config hash "
        f"{OTHER_HASH}, not the loaded one ({tiny_hash})"
    )


async def test_start_and_reload_refuse_another_config_in_one_sentence(
    reload_settings: Settings, make_version: MakeVersion, tiny_model_dir: Path, tiny_hash: str
) -> None:
    """The reload job's sentence did not name the base the version was trained on; the
    start's did."""
    version = make_version(V1, config_hash=OTHER_HASH)
    refusal = _refusal(tiny_model_dir, tiny_hash)
    async with await ChatService.open(reload_settings) as service:
        result = await service.reload(V1)
    assert not result.ok and result.reason == f"Version {V1} {refusal}."
    reload_settings.model.adapter = str(version)
    with pytest.raises(ConfigError) as refused:
        await ChatService.open(reload_settings)
    assert f": it {refusal}; point it at" in str(refused.value)


def test_eval_refuses_another_config_in_the_same_sentence(
    reload_settings: Settings, make_version: MakeVersion, tiny_model_dir: Path, tiny_hash: str
) -> None:
    """`atri eval` said "a different build of the base model (config hash X vs Y)", in
    other words than the worker for the same refusal."""
    version = make_version(V1, config_hash=OTHER_HASH)
    with pytest.raises(EvalError) as refused:
        evaluate(reload_settings, version)
    assert str(refused.value) == f"{V1} {_refusal(tiny_model_dir, tiny_hash)}."
    assert not (version / "eval.json").exists()

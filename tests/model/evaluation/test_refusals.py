"""`atri eval` refuses a version it cannot load with one sentence, and writes nothing."""

from __future__ import annotations

import json

import pytest

from atri.config import Settings
from model.evaluation.runner import EvalError, evaluate
from tests.model.conftest import V1, MakeVersion


def test_a_version_whose_config_is_of_another_rank_is_one_sentence(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    version = make_version(V1, rank=4)
    config = version / "adapter_config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"r": 8}))
    with pytest.raises(EvalError, match="says rank r = 8") as caught:
        evaluate(reload_settings, version)
    assert "\n" not in str(caught.value)
    assert not (version / "eval.json").exists() and not (version / "eval.md").exists()

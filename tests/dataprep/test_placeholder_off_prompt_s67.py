"""Session 67: with `user_placeholder = false` her replies named the lead ("夏生先生") while
every sample's system prompt still said "Talk with {{user}} as ATRI": a model trained in
LLaMA-Factory and served anywhere but ATRI's worker says "{{user}}" to people."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import prepare
from tests.dataprep.conftest import FIXTURES

PROMPT = "Talk with {{user}} as ATRI."


def system_prompts(out: Path) -> set[str]:
    rows = json.loads((out / "atri_sharegpt.json").read_text(encoding="utf-8"))
    return {row["system"] for row in rows}


def test_without_the_placeholder_the_prompt_names_the_lead_as_the_replies_do(
    tmp_path: Path,
) -> None:
    settings = DataprepSettings(user_placeholder=False, eval_ratio=0)
    prepare(settings, [FIXTURES / "plain_zh.txt"], tmp_path / "off", system_prompt=PROMPT)
    assert system_prompts(tmp_path / "off") == {"Talk with 夏生 as ATRI."}

    kept = DataprepSettings(eval_ratio=0)  # the default: {{user}}, filled by ATRI's worker
    prepare(kept, [FIXTURES / "plain_zh.txt"], tmp_path / "on", system_prompt=PROMPT)
    assert system_prompts(tmp_path / "on") == {PROMPT}

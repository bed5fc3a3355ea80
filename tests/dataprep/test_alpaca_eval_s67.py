"""Session 67: with `output_formats = ["alpaca"]` the held-out scenes were written to no
file (alpaca had no eval file: "its users evaluate on the sharegpt one", which was not
written either), while the run said "2 eval samples in 1 held-out scene"."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import prepare
from tests.dataprep.conftest import FIXTURES

SCRIPTS = [FIXTURES / name for name in ("plain_zh.txt", "plain_en.txt", "plain_ja.txt")]


def test_alpaca_alone_keeps_the_held_out_scenes_in_its_own_eval_file(tmp_path: Path) -> None:
    settings = DataprepSettings(output_formats=["alpaca"], eval_ratio=0.3)
    out = tmp_path / "out"
    result = prepare(settings, SCRIPTS, out, system_prompt="你是亚托莉。")
    assert result.evaluation
    held_out = json.loads((out / "atri_alpaca_eval.json").read_text(encoding="utf-8"))
    assert [row["output"] for row in held_out] == [s.reply for s in result.evaluation]
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["atri_alpaca_eval"]["file_name"] == "atri_alpaca_eval.json"
    assert info["atri_alpaca_eval"]["formatting"] == "alpaca"
    assert sorted(p.name for p in out.glob("*.json*")) == [
        "atri_alpaca.json",
        "atri_alpaca_eval.json",
        "atri_stats.json",
        "dataset_info.json",
    ]

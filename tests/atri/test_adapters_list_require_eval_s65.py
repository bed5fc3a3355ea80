"""Under `[reload] require_eval`, `atri adapters list` called an unevaluated version
"newest", "the version a worker started now would load"; a worker started then refused
it and loaded the evaluated one below it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.atri.test_adapters_list_prune_s53 import (
    V3,
    V4,
    adapters,  # noqa: F401 (a fixture)
    atri,
    closed_port,
    config,
    row,
    tiny_hash,  # noqa: F401 (a fixture)
)


def test_an_unevaluated_version_is_not_the_one_a_worker_would_load(
    adapters: Path,  # noqa: F811
    tmp_path: Path,
    tiny_model_dir: Path,
) -> None:
    report = {"adapter_version": V3, "adapter": {"ooc_rate": 0.1}, "base": {"ooc_rate": 0.3}}
    (adapters / V3 / "eval.json").write_text(json.dumps(report), encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}"
    strict = config(tmp_path, tiny_model_dir, url, "[reload]\nrequire_eval = true\n")
    code, out = atri(strict, "adapters", "list")
    assert code == 0, out
    assert row(out, V4).endswith("refused: not evaluated")
    assert row(out, V3).split()[-1] == "newest"

"""`atri adapters prune` with no worker running keeps the version `[model] adapter` names:
a worker checks that folder before its model loads and refuses to start without it, so
pruning it (the oldest, say, pinned there) left the worker unable to start."""

from __future__ import annotations

from pathlib import Path

from tests.atri.test_adapters_list_prune_s53 import (  # noqa: F401 (fixtures)
    V1,
    V4,
    adapters,
    atri,
    closed_port,
    config,
    tiny_hash,
)
from tests.cli_output import says


def test_prune_keeps_the_version_model_adapter_names(
    adapters: Path,  # noqa: F811
    tmp_path: Path,
    tiny_model_dir: Path,
) -> None:
    pinned = f'[model]\nadapter = "adapters/{V1}"\n'
    cfg = config(tmp_path, tiny_model_dir, f"http://127.0.0.1:{closed_port()}")
    cfg.write_text(cfg.read_text().replace("[model]\n", pinned), encoding="utf-8")

    code, out = atri(cfg, "adapters", "prune", "--keep", "1", "--yes")

    assert code == 0, out
    assert says(out, f"Keeping {V1}: [model] adapter names it: a worker starts with it."), out
    assert sorted(p.name for p in adapters.iterdir() if not p.name.startswith(".")) == [V1, V4]

"""A GGUF LoRA conversion killed outright leaves no adapter.gguf that a later start would
trust, and the next conversion writes a whole one and removes the dead one's work file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from model.adapters.gguf_lora import ADAPTER_GGUF, ensure_gguf_adapter
from tests.model.adapters.make_versions import gguf_facts_of, write_version

REPO = Path(__file__).resolve().parents[3]


def work_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".adapter-")]


def test_a_conversion_killed_mid_write_leaves_nothing_trusted(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    version = write_version(
        tmp_path / "adapters", "20250101-000001", tiny_model_dir, base_model="tiny", config_hash=""
    )
    facts = gguf_facts_of(tiny_model_dir)
    killed = subprocess.run(
        [sys.executable, "-m", "tests.model.adapters.killed_gguf", str(version), json.dumps(facts)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (version / ADAPTER_GGUF).exists()
    assert len(work_files(version)) == 1  # the half-written file, under a hidden name

    import gguf

    written = ensure_gguf_adapter(version, facts)
    assert len(gguf.GGUFReader(str(written)).tensors) > 0
    # Before: every killed conversion left its work file (the adapter's size) for good.
    assert work_files(version) == []

"""A new user preparing another character than ATRI, following README.md: what the
commands say must name her, not ATRI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.atri.test_worker_start import lines_until_listening, start_worker, stop

MIO_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Mio", "description": "A cheerful girl by the sea.", "first_mes": "Hi!"},
}


def test_the_worker_of_another_character_says_it_is_hers(tmp_path: Path) -> None:
    (tmp_path / "mio.json").write_text(json.dumps(MIO_CARD), encoding="utf-8")
    config = tmp_path / "mio.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[persona]\ncard = "mio.json"\n[worker]\nport = 0\n',
        encoding="utf-8",
    )
    worker = start_worker(config, tmp_path)
    try:
        listening = lines_until_listening(worker)[-1]
    finally:
        stop(worker, timeout=20)
    # It said "ATRI worker listening on …" while serving Mio.
    assert listening.startswith("Mio's worker listening on http://127.0.0.1:"), listening

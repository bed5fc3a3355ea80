"""A new user preparing another character than ATRI, following README.md.

`atri eval` of her version probed her with ATRI's packaged probe set ("What do you think
of Natsuki?", "Are you really a robot?") and counted ATRI's style markers ("ATRI",
"high-performance") in her replies, without a word: the figures (and the reload gate on
them) said nothing about her."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from tests.model.conftest import V1, MakeVersion
from tests.model.training.sharegpt import conversation, write

MIO_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Mio",
        "description": "Mio is a cheerful girl who lives in a seaside town.",
        "personality": "cheerful",
        "scenario": "",
        "first_mes": "Ken! The tide is out!",
        "mes_example": "",
    },
}
OWN_PROBES = '[[probe]]\ncategory = "identity"\nen = "Who are you?"\n'
BORROWED = "is judged by ATRI's own"


def _config(tmp_path: Path, model_dir: Path, card: bool, own_eval: str = "") -> Path:
    data = tmp_path / "data"
    pairs = [("Morning, Mio.", "Morning! The tide is out.")]
    write(data / "mio_sharegpt.json", [conversation(pairs, "You are Mio.")] * 2)
    (tmp_path / "mio.json").write_text(json.dumps(MIO_CARD), encoding="utf-8")
    (tmp_path / "probes.toml").write_text(OWN_PROBES, encoding="utf-8")
    config = tmp_path / "mio.toml"
    config.write_text(
        f'[model]\nbase = "{model_dir}"\n'
        f'[persona]\ncard = "{"mio.json" if card else ""}"\n'
        '[train]\ndataset = "data/mio_sharegpt.json"\n'
        f"[eval]\nmax_new_tokens = 1\nbatch_size = 32\n{own_eval}",
        encoding="utf-8",
    )
    return config


def _eval(config: Path) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), "eval"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # the notes' console wraps at 80 columns


def test_eval_of_another_character_says_she_is_judged_by_atris_probes_and_markers(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    make_version(V1)
    output = _eval(_config(tmp_path, tiny_model_dir, card=True))
    assert (
        "Mio is judged by ATRI's own probe set ([eval] probes) and style markers "
        "([eval] style_markers): give Mio's own there" in output
    )


def test_no_note_for_atri_nor_for_a_character_with_her_own_probes_and_markers(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    make_version(V1)
    assert BORROWED not in _eval(_config(tmp_path, tiny_model_dir, card=False))
    own = 'probes = "probes.toml"\nstyle_markers = ["tide"]\n'
    assert BORROWED not in _eval(_config(tmp_path, tiny_model_dir, card=True, own_eval=own))
    # Her own probes but ATRI's markers: only the markers are named.
    output = _eval(
        _config(tmp_path, tiny_model_dir, card=True, own_eval='probes = "probes.toml"\n')
    )
    assert "Mio is judged by ATRI's own style markers ([eval] style_markers)" in output

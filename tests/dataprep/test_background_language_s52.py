"""`atri prep` asks about an English card's background facts in English: left at its
(Chinese) default, `[dataprep] background_questions` asked every card "能说说你的ship吗？"."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app

EILEEN = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A sailor girl."}}
SCRIPT = "".join(
    f"Chapter {n}\nMax: Good morning, Eileen. {n}\nEileen: Good morning, captain! {n}\n"
    f"Max: Shall we sail? {n}\nEileen: Yes, I packed sandwiches for the trip. {n}\n"
    for n in range(1, 5)
)
FACT = '[[fact]]\ntopic = "ship"\nanswer = "My ship is the Sea Lark. I painted her blue myself!"\n'


def questions_asked(tmp_path: Path, config: str) -> set[str]:
    """The first user turn of every sample `atri prep` writes for Eileen under `config`."""
    (tmp_path / "eileen.json").write_text(json.dumps(EILEEN), encoding="utf-8")
    (tmp_path / "bg.toml").write_text(FACT, encoding="utf-8")
    (tmp_path / "script.txt").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[persona]\ncard = "eileen.json"\n[dataprep]\nlead_aliases = ["Max"]\n'
        'character_aliases = ["Eileen"]\nbackground = "bg.toml"\nbackground_ratio = 0.5\n' + config,
        encoding="utf-8",
    )
    config_path = str(tmp_path / "config.toml")
    prep = CliRunner().invoke(app, ["--config", config_path, "prep", str(tmp_path / "script.txt")])
    assert prep.exit_code == 0, prep.output
    written = sorted((tmp_path / "data" / "dataset").glob("eileen_sharegpt*.json"))
    samples = [s for file in written for s in json.loads(file.read_text("utf-8"))]
    return {sample["conversations"][0]["value"] for sample in samples}


def test_an_english_cards_facts_are_asked_in_english(tmp_path: Path) -> None:
    asked = questions_asked(tmp_path, "")
    assert "Tell me about your ship." in asked
    assert not any("ship" in q and not q.isascii() for q in asked), asked


def test_questions_written_in_the_config_are_asked_as_written(tmp_path: Path) -> None:
    asked = questions_asked(tmp_path, 'background_questions = ["能说说你的{topic}吗？"]\n')
    assert "能说说你的ship吗？" in asked
    assert "Tell me about your ship." not in asked


def test_a_japanese_card_is_asked_in_japanese() -> None:
    from atri.config import DataprepSettings
    from dataprep.background import Fact, templates_for

    default = DataprepSettings().background_questions
    # A fact its words cannot place is asked in the card's language.
    assert templates_for(Fact("2024", "8/28"), default, "ja")[0] == "{topic}について教えて。"
    assert templates_for(Fact("2024", "8/28"), default, "zh") == default

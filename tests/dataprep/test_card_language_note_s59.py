"""Session 59: `atri prep` says when the script's lines are in one language and the
character card is used in another: the adapter then learns to answer in the script's
language under a system prompt in the card's, and the worker's out-of-character guard
([ooc] language = "auto") takes those replies for drift. Now that ATRI's own Japanese
scripts (Artemis .ast) are read beside a Chinese card, this happens to real users."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from atri.config import Settings
from dataprep.cli import run_prep

FIXTURES = Path(__file__).parent / "fixtures"


def _prep(tmp_path: Path, script: str, card: str, **config: object) -> str:
    settings = Settings(root=tmp_path, **config)  # type: ignore[arg-type]
    console = Console(record=True, width=400)
    code = run_prep(
        settings, [FIXTURES / script], tmp_path / "out", None, "", console, card_language=card
    )
    assert code == 0, console.export_text()
    return " ".join(console.export_text().split())


def test_an_english_script_under_a_chinese_card_is_named(tmp_path: Path) -> None:
    said = _prep(tmp_path, "plain_en.txt", "zh", persona={"language": "zh"})
    assert (
        "The lines read are in English, but the character card is used in Chinese ([persona]"
        ' language, "zh"): the adapter learns to answer in English under a system prompt in'
        ' Chinese, and the worker\'s out-of-character guard ([ooc] language = "auto") takes'
        " replies in English for drift. Prepare a script in Chinese, or use the card in"
        " English (with a base model that speaks it)."
    ) in said


def test_the_offline_models_english_is_explained(tmp_path: Path) -> None:
    # The default config: "auto" is English on the offline default model.
    said = _prep(tmp_path, "plain_zh.txt", "en")
    assert "The lines read are in Chinese, but the character card is used in English" in said
    assert 'on the offline default model "auto" is English, the only language it knows' in said
    # A base of the user's own: "auto" chose English for the card itself.
    said = _prep(tmp_path, "plain_zh.txt", "en", model={"base": "Qwen/Qwen2.5-7B-Instruct"})
    assert "card is used in English" in said and "offline default model" not in said


@pytest.mark.parametrize(
    ("script", "card", "config"),
    [
        ("plain_zh.txt", "zh", {}),  # the same language
        ("plain_en.txt", "en", {}),
        ("plain_zh.txt", "", {}),  # no card language known
    ],
)
def test_nothing_is_said_where_they_agree(
    tmp_path: Path, script: str, card: str, config: dict[str, object]
) -> None:
    assert "The lines read are in" not in _prep(tmp_path, script, card, **config)


def test_a_guard_that_judges_no_language_is_not_named(tmp_path: Path) -> None:
    said = _prep(tmp_path, "plain_en.txt", "zh", ooc={"language": "any"})
    assert "card is used in Chinese" in said and "out-of-character guard" not in said

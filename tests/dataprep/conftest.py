"""Fixtures for the dataprep tests: the fixture scripts folder and default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE_BACKGROUND = (
    Path(__file__).resolve().parents[2] / "dataprep" / "examples" / "background.toml"
)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def prep_settings() -> DataprepSettings:
    return DataprepSettings()


def kyo_and_minamo_lines(game: Path) -> list[tuple[str, str, int]]:
    """(speaker, text, line) of what Kyo and Minamo say in the Ren'Py `game` folder, with
    its Chinese translation in `tl/` put in place."""
    from dataprep.loaded_scripts import load_scripts
    from dataprep.pipeline import iter_utterances, parse_options

    settings = DataprepSettings(
        lead_aliases=["Kyo"], character_aliases=["Minamo"], renpy_language="chinese", eval_ratio=0
    )
    loaded, _ = load_scripts([game / "script.rpy", game / "tl"], settings, None)
    options = parse_options(settings, loaded)
    return [
        (u.speaker, u.text, u.line) for batch in iter_utterances(loaded, options) for u in batch
    ]

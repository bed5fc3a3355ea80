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

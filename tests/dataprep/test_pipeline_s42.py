"""A Ren'Py translation file's dialogue blocks are read once: where its lines go and which
identifiers it names came from two readings of every translation file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options
from tests.dataprep.conftest import FIXTURES

HARBOR = FIXTURES / "harbor" / "game"


def test_each_translation_file_is_read_for_its_blocks_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = Counter[str]()
    real = renpy_translations.translation_origins

    def counted(text: str) -> list[renpy_translations.Origin]:
        read[text] += 1
        return real(text)

    monkeypatch.setattr(renpy_translations, "translation_origins", counted)
    settings = DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language="chinese"
    )
    scripts, _ = load_scripts([HARBOR / "script.rpy", HARBOR / "tl" / "chinese"], settings, None)
    translation = next(s.text for s in scripts if "tl" in s.path.parts and s.path.stem == "script")
    said = [
        u for batch in iter_utterances(scripts, parse_options(settings, scripts)) for u in batch
    ]
    # The translated lines still stand in the original's place.
    assert any(u.read_from is not None and Path(u.source).name == "script.rpy" for u in said)
    assert read[translation] == 1
    assert set(read.values()) == {1}

"""The probe sets in the language she speaks: a Japanese card is asked in Japanese."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.character.ooc import detect_language
from model.evaluation.probes import ProbeError, fallback_note, load_probes
from model.evaluation.recall import load_recall_probes


def test_packaged_probes_ask_a_japanese_card_in_japanese() -> None:
    probes = load_probes()
    assert fallback_note(probes, "ja") == ""
    for probe in probes:
        assert detect_language(probe.text("ja")) == "ja", probe
        assert probe.text("zh") == probe.zh and probe.text("en") == probe.en


def test_probes_without_her_language_are_asked_in_another_and_the_run_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "probes.toml"
    path.write_text(
        '[[probe]]\nzh = "你是谁？"\nen = "Who are you?"\n\n'
        '[[probe]]\nja = "あなたは誰？"\n\n[[probe]]\nen = "Are you a GPU?"\n',
        encoding="utf-8",
    )
    probes = load_probes(path)
    assert [p.text("ja") for p in probes] == ["你是谁？", "あなたは誰？", "Are you a GPU?"]
    assert fallback_note(probes, "ja") == (
        "2 of 3 probes have no Japanese question (no ja = in the probe file); "
        "asked in Chinese and English instead."
    )
    assert [p.text("zh") for p in probes] == ["你是谁？", "あなたは誰？", "Are you a GPU?"]


def test_recall_probes_in_japanese() -> None:
    recall = load_recall_probes("ja")
    assert recall.probes and recall.filler
    assert all(detect_language(p.asked) == "ja" for p in recall.probes)


def test_a_blank_probe_or_a_list_category_is_one_sentence(tmp_path: Path) -> None:
    """A probe of blanks was asked as it was; a list category became "['a', 'b']"."""
    path = tmp_path / "probes.toml"
    path.write_text('[[probe]]\ncategory = "x"\nen = "   "\n', encoding="utf-8")
    with pytest.raises(ProbeError, match='probe 0 needs a "zh", "ja" or "en" question'):
        load_probes(path)
    path.write_text('[[probe]]\ncategory = ["a", "b"]\nen = "Hi?"\n', encoding="utf-8")
    with pytest.raises(ProbeError, match="category must be a word"):
        load_probes(path)
    path.write_text('[[probe]]\ncategory = "x"\nen = "  Hi?\\n"\n', encoding="utf-8")
    assert load_probes(path)[0].en == "Hi?"


def test_a_probe_names_her_as_a_card_does(tmp_path: Path) -> None:
    """`{{char}}` in a probe was asked as written, where `smoke_prompt` fills it in."""
    path = tmp_path / "probes.toml"
    path.write_text('[[probe]]\ncategory = "x"\nen = "{{char}}, do you know {{user}}?"\n')
    probe = load_probes(path)[0].naming("Eileen", "Max")
    assert probe.text("en") == "Eileen, do you know Max?"

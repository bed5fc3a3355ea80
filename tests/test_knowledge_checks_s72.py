"""Session 72 knowledge review: Chinese and Japanese background facts beside an English
script, the card used in English, made 18 of 53 train samples in zh/ja without a word
(a Chinese script says so); a probe file's `answer`/`expected` keys were accepted and did
nothing, so the author believed her replies were checked against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.evaluation.probes import ProbeError, load_probes

EILEEN = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A sailor girl."}}
SCRIPT = "".join(
    f"Chapter {n}\nMax: Good morning, Eileen. {n}\nEileen: Good morning, captain! {n}\n"
    f"Max: Shall we sail? {n}\nEileen: Yes, I packed sandwiches for the trip. {n}\n"
    for n in range(1, 5)
)
ENGLISH_FACT = '[[fact]]\ntopic = "Eden"\nanswer = "Eden is the city built in the sky."\n'
MIXED = (
    ENGLISH_FACT
    + '[[fact]]\ntopic = "伊甸"\nanswer = "我听说，伊甸是建在天上的城市。"\n'
    + '[[fact]]\ntopic = "バッテリー"\nanswer = "私のバッテリーは長持ちです。"\n'
)


def prep(tmp_path: Path, background: str) -> str:
    """`atri prep`'s output for the English script with `background` as lore.toml; the
    card is used in English ("auto" on the offline default model)."""
    (tmp_path / "eileen.json").write_text(json.dumps(EILEEN), encoding="utf-8")
    (tmp_path / "lore.toml").write_text(background, encoding="utf-8")
    (tmp_path / "script.txt").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[persona]\ncard = "eileen.json"\n[dataprep]\nlead_aliases = ["Max"]\n'
        'character_aliases = ["Eileen"]\nbackground = "lore.toml"\nbackground_ratio = 0.5\n'
        "eval_ratio = 0\n",
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    run = CliRunner().invoke(app, ["--config", config, "prep", str(tmp_path / "script.txt")])
    assert run.exit_code == 0, run.output
    return " ".join(run.output.split())


def test_facts_in_another_language_than_the_card_are_named(tmp_path: Path) -> None:
    said = prep(tmp_path, MIXED)
    assert (
        f"2 of 3 background facts in {tmp_path / 'lore.toml'} are in Chinese and Japanese"
        " (fact 2 (伊甸), fact 3 (バッテリー);"
    ) in said
    assert (
        'but the character card is used in English ([persona] language, "en"): the adapter'
        " learns to answer them in Chinese and Japanese under a system prompt in English."
    ) in said


def test_facts_in_the_cards_language_say_nothing(tmp_path: Path) -> None:
    assert "background facts in" not in prep(tmp_path, ENGLISH_FACT)


def test_a_probe_key_the_run_does_not_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "knowledge_probes.toml"
    path.write_text(
        '[[probe]]\ncategory = "knowledge"\nen = "What is happening to our town?"\n'
        'answer = "sinking"\nexpected = "floating city"\n',
        encoding="utf-8",
    )
    with pytest.raises(ProbeError) as refused:
        load_probes(path)
    assert str(refused.value) == (
        f"{path}: probe 0 has keys a probe does not have: answer, expected; a probe has"
        " category, zh, en and ja only (replies are not compared with an expected answer)."
    )
    path.write_text('[[probe]]\ncategory = "knowledge"\nen = "Who are you?"\n', encoding="utf-8")
    assert load_probes(path)[0].en == "Who are you?"

"""Session 44 (clean): yes and no said in one sound are answers, not noise; full-width
spaces in Chinese and Japanese lines stay full-width."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.clean import clean_text, is_interjection_only
from dataprep.pipeline import run_pipeline


@pytest.mark.parametrize(
    "reply",
    [
        "うん",
        "うん。",
        "ウン！",
        "ううん",
        "ううん、",
        "おう！",
        "うんっ！",
        "うむ。",
        "ええ。",
        "嗯。",
        "嗯！",
        "嗯嗯",
        "Uh-huh.",
    ],
)
def test_a_yes_or_no_said_alone_is_an_answer(reply: str) -> None:
    assert not is_interjection_only(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "嗯……",
        "嗯・・・・・・",
        "嗯...",
        "嗯？",
        "嗯～",
        "うーん・・・・・・",
        "うん……",
        "えっと……",
        "えーっと",
        "ええっ！？",
    ],
)
def test_hesitation_is_still_noise(reply: str) -> None:
    assert is_interjection_only(reply)


def test_answers_reach_the_dataset_and_hesitation_does_not(tmp_path: Path) -> None:
    script = tmp_path / "scene.txt"
    script.write_text(
        "夏生：一緒に行く？\nアトリ：うん。\n"
        "夏生：嫌なの？\nアトリ：ううん、\nアトリ：違うよ。\n"
        "夏生：じゃあ、どうする？\nアトリ：うーん・・・・・・\nアトリ：えっと……\n"
        "夏生：決めた？\nアトリ：嗯・・・・・・\nアトリ：海に行きます！\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [s.turns[-1][1] for s in result.train] == [
        "うん。",
        "ううん、\n違うよ。",
        "海に行きます！",
    ]
    assert result.stats.character_lines_dropped["interjection_only"] == 3


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("「それは　違う」", "それは\u3000違う"),
        ("那是\u3000\u3000我的", "那是\u3000我的"),  # a run of them is one
        ("\u3000うん、\u3000そうだよ\u3000", "うん、\u3000そうだよ"),  # none at the ends
        ("Hello\u3000 world", "Hello world"),  # Latin text: only a space
    ],
)
def test_a_full_width_space_stays_in_chinese_and_japanese(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_a_full_width_space_reaches_the_dataset(tmp_path: Path) -> None:
    script = tmp_path / "scene.txt"
    script.write_text("夏生：本当に？\nアトリ：でしょ？\u3000えへへ\n", encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["アトリ"], eval_ratio=0)
    assert [s.turns[-1][1] for s in run_pipeline(settings, [script]).train] == [
        "でしょ？\u3000えへへ"
    ]

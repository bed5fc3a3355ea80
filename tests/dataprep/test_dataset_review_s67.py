"""Session 67 review of the dataset in LLaMA-Factory: an even `context_turns` gave one turn
fewer than a reader of its comment expected; a `background_ratio` the facts could not fill
went by without a word; default questions read "能说说你的喜欢的食物吗？" and "What can you
tell me about birthday?"; the stats picture's reply lengths (the script's only) sat under a
title counting background samples in train, neither saying so."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from atri.config import DataprepSettings
from dataprep.background import Asking, background_pool, read_lore
from dataprep.pipeline import run_pipeline
from dataprep.records import Role
from dataprep.stats import Stats, stats_figure
from tests.dataprep.conftest import EXAMPLE_BACKGROUND

matplotlib.use("Agg")
import matplotlib.pyplot as plt

REPO = Path(__file__).resolve().parents[2]
# Two chapters of one long exchange each, as the reviewer's story_zh.txt has them.
STORY = "".join(
    f"第{c}章\n"
    + "".join(
        f"夏生：第{c}章第{k}句，你听到了吗？\n亚托莉：听到了，第{c}章第{k}句回答！\n"
        for k in range(6)
    )
    for c in (1, 2)
)


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "story_zh.txt"
    path.write_text(STORY, encoding="utf-8")
    return path


# 1. `context_turns` counts turns before her reply, at most; the history starts with his.


def _longest_history(tmp_path: Path, context_turns: int) -> int:
    settings = DataprepSettings(context_turns=context_turns, eval_ratio=0)
    samples = run_pipeline(settings, [_script(tmp_path)]).train
    for sample in samples:
        assert sample.turns[0][0] is Role.LEAD and sample.turns[-1][0] is Role.CHARACTER
    return max(len(s.turns) for s in samples) - 1


@pytest.mark.parametrize(
    ("context_turns", "history"), [(1, 1), (2, 1), (3, 3), (4, 3), (5, 5), (6, 5), (7, 7)]
)
def test_a_reply_has_at_most_context_turns_before_it_an_odd_number(
    tmp_path: Path, context_turns: int, history: int
) -> None:
    assert _longest_history(tmp_path, context_turns) == history


def test_the_shipped_comment_says_an_even_number_gives_one_fewer() -> None:
    """The comment read "Earlier turns … given as context": 6 was taken to give six."""
    lines = (REPO / "config.toml").read_text("utf-8").splitlines()
    at = lines.index("context_turns = 6")
    comment = " ".join(line.lstrip("# ") for line in lines[at - 3 : at])
    assert "an even number gives one fewer" in comment
    assert "6 gives 5" in comment


# 2. A background_ratio the facts cannot fill is said, with the share they make.


def test_a_ratio_the_facts_cannot_fill_is_noted_with_their_share(tmp_path: Path) -> None:
    settings = DataprepSettings(background_ratio=0.9, eval_ratio=0)
    result = run_pipeline(settings, [_script(tmp_path)], background_path=EXAMPLE_BACKGROUND)
    background = sum(1 for s in result.train if s.from_background)
    dialogue = len(result.train) - background
    asked = round(dialogue * 0.9 / 0.1)
    share = background / len(result.train)
    assert asked > background
    assert (
        f"[dataprep] background_ratio 0.9 asked for {asked} background samples, but the facts"
        f" give {background} ({share:.0%} of the train samples); add facts or questions for"
        " more." in result.notes
    )


def test_a_ratio_the_facts_fill_says_nothing(tmp_path: Path) -> None:
    settings = DataprepSettings(background_ratio=0.1, eval_ratio=0)
    result = run_pipeline(settings, [_script(tmp_path)], background_path=EXAMPLE_BACKGROUND)
    assert any(s.from_background for s in result.train)
    assert not any("asked for" in note for note in result.notes)


# 3. Default questions read right for a topic with its own owner.


def _questions(path: Path) -> set[str]:
    asking = Asking(list(DataprepSettings().background_questions), ["亚托莉", "ATRI"])
    return {s.prompt for s in background_pool(read_lore(path), asking).samples}


def test_chinese_topics_with_their_own_de_are_asked_without_ni_de() -> None:
    asked = _questions(EXAMPLE_BACKGROUND)
    assert {"能说说喜欢的食物吗？", "能说说生活的小镇吗？", "能说说你的名字吗？"} <= asked
    assert not any("你的喜欢" in q or "你的生活" in q for q in asked), asked


def test_english_topics_are_asked_as_hers_unless_they_name_an_owner(tmp_path: Path) -> None:
    path = tmp_path / "bg_en.md"
    path.write_text(
        "# ATRI facts\n## birthday\nThe day Natsuki found me feels like one.\n"
        "## the town\nI live in a town the sea is slowly taking.\n",
        encoding="utf-8",
    )
    asked = _questions(path)
    assert {
        "Tell me about your birthday.",
        "What can you tell me about your birthday?",
        "Tell me about the town.",
        "What can you tell me about the town?",
    } == asked


# 4. The picture says which replies its histogram counts and how many samples are facts.


def test_the_picture_names_script_replies_and_background_samples() -> None:
    stats = Stats(
        character="ATRI",
        character_lines_in=20,
        character_lines_kept=15,
        samples={"train": 40, "eval": 0, "background": 25},
        reply_lengths=[12, 15, 20, 9],
    )
    figure = stats_figure(stats)
    try:
        assert "in 40 train (25 from background) and 0 eval samples" in figure.get_suptitle()
        assert figure.axes[0].get_title() == "Length of ATRI's replies in the script"
    finally:
        plt.close(figure)  # other tests count the figures left open

"""Session 54: two WebGAL runs of `-when=` alternatives one after the other (`mood>1` /
`mood<=1`, then `weather==1` / `weather==2`) were read as four alternatives of one
choice: the second run's lines followed none of the first's (the lead's line under
`weather==2` glued to the question before her answer). Each run of alternatives on its
own variables is now a choice of its own, forking from the last alternative of the one
before it."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline

# Two runs of alternatives one after the other: her answer as her mood gives it, then his
# as the weather does. (Written here: a WebGAL scene among the fixtures would be one that
# test_webgal_s52 finds detected as WebGAL.)
TWO_CHOICES = """\
changeBg:bg_dining.webp -next;
changeFigure:atri_normal.png -left -next;
夏生:今天晚饭吃什么？;
亚托莉:螃蟹！我想吃螃蟹！ -when=mood>1;
亚托莉:……随便吧。 -when=mood<=1;
夏生:那去海边抓吧？ -when=weather==1;
夏生:下雨了，去超市买吧。 -when=weather==2;
亚托莉:好的！;
"""


def test_two_runs_of_alternatives_on_different_variables_are_two_choices() -> None:
    said = parse(TWO_CHOICES, "start.txt", "webgal", ParseOptions())
    question, crab, whatever, sea, rain, fine = said
    assert [u.text for u in said][1:5] == [
        "螃蟹！我想吃螃蟹！",
        "……随便吧。",
        "那去海边抓吧？",
        "下雨了，去超市买吧。",
    ]
    # The first choice's alternatives answer the question; the second's follow the
    # first's last alternative, each a branch of its own.
    assert crab.forked_from == whatever.forked_from == question.branch
    assert sea.forked_from == rain.forked_from == whatever.branch
    assert len({question.branch, crab.branch, whatever.branch, sea.branch, rain.branch}) == 5
    assert (fine.branch, fine.forked_from) == (rain.branch, rain.forked_from)


def test_no_branch_follows_a_line_its_condition_excludes(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text(TWO_CHOICES, "utf-8")
    settings = DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, user_placeholder=False
    )
    samples = run_pipeline(settings, [path]).train
    pairs = [(s.prompt, s.reply) for s in samples]
    assert ("今天晚饭吃什么？", "螃蟹！我想吃螃蟹！") in pairs
    assert ("今天晚饭吃什么？", "……随便吧。") in pairs
    (fine,) = [s for s in samples if s.reply == "好的！"]
    # Her 好的 answers the lead's line under `weather==2` alone, after her reply under
    # `mood<=1`: not the question glued to it, and never after her other reply too.
    assert fine.prompt == "下雨了，去超市买吧。"
    history = [text for _, text in fine.turns]
    assert "……随便吧。" in history
    assert not any("螃蟹" in text or "海边" in text for text in history)


def test_alternatives_on_flags_of_their_own_stay_one_choice() -> None:
    # `isHappy` beside `isSad`: one condition on each variable, alternatives of one choice
    # (as a run of them always was), each answering the line before them.
    text = "夏生:怎么了？;\n亚托莉:太好了！ -when=isHappy;\n亚托莉:呜…… -when=isSad;\n夏生:嗯。;\n"
    question, happy, sad, after = parse(text, "a.txt", "webgal", ParseOptions())
    assert happy.forked_from == sad.forked_from == question.branch
    assert happy.branch != sad.branch
    assert (after.branch, after.forked_from) == (sad.branch, sad.forked_from)

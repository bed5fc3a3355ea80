"""Session 53: consecutive WebGAL lines under different `-when=` conditions are
alternatives the game shows one of (its scriptExecutor skips a statement whose condition
fails). They were read as two lines of one speaker, merged into one reply saying both;
now each is a branch (`Utterance.branch`, as Naninovel's `@if` blocks and Ren'Py's `if`
chains are), following the lines before them."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline

SCENE = """\
changeBg:bg_dining.webp -next;
changeFigure:atri_normal.png -left -next;
夏生:今天晚饭吃什么？ -v_lead_010.ogg;
亚托莉:螃蟹！我想吃螃蟹！ -when=mood>1 -vocal=atri_010a.ogg;
亚托莉:……随便吧。 -when=mood<=1 -vocal=atri_010b.ogg;
夏生:那就这么定了。;
亚托莉:好的！;
"""


def test_each_alternative_answers_the_line_before_it(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text(SCENE, "utf-8")
    result = run_pipeline(_settings(), [path])
    pairs = [(s.prompt, s.reply) for s in result.train]
    assert ("今天晚饭吃什么？", "螃蟹！我想吃螃蟹！") in pairs
    assert ("今天晚饭吃什么？", "……随便吧。") in pairs
    assert not any("螃蟹" in reply and "随便" in reply for _, reply in pairs)


def test_alternatives_are_branches_forking_from_the_lines_before() -> None:
    said = parse(SCENE, "start.txt", "webgal", ParseOptions())
    before, first, second, after, last = said
    assert len({before.branch, first.branch, second.branch, after.branch}) == 4
    assert first.forked_from == second.forked_from == before.branch
    # The lines after go on from those before, as a player whose conditions all failed.
    assert after.forked_from == before.branch and last.branch == after.branch


def test_lines_under_one_condition_stay_where_they_are() -> None:
    text = (
        "夏生:冷吗？;\n"
        "亚托莉:有一点。 -when=cold==true;\n"
        "亚托莉:要抱抱。 -when=cold==true;\n"
        "夏生:好。;\n"
    )
    said = parse(text, "a.txt", "webgal", ParseOptions())
    assert {(u.branch, u.forked_from) for u in said} == {(0, None)}


def test_a_jump_between_still_ends_the_exchange() -> None:
    text = (
        "亚托莉:A -when=a==1;\n"
        "jumpLabel:end -when=a==1;\n"
        "亚托莉:B -when=a==2;\n"
        "label:end;\n"
        "夏生:C;\n"
    )
    said = parse(text, "a.txt", "webgal", ParseOptions())
    assert len({u.branch for u in said}) == 3
    assert said[-1].forked_from is None  # after a label: where a jump lands


def _settings() -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, user_placeholder=False
    )

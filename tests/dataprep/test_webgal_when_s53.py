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
    assert len({before.branch, first.branch, second.branch}) == 3
    assert first.forked_from == second.forked_from == before.branch
    # The lines after go on from the last alternative, as a player who saw that one.
    assert (after.branch, after.forked_from) == (second.branch, second.forked_from)
    assert last.branch == after.branch


# The shape of a real game's ending (dangerous_liaisons, END_HE2_CAREER_FOCUS.txt): two
# conditions interleaved, the lead's lines between the runs.
INTERLEAVED = """\
changeBg:office_desk.png -next;
你:你做出了选择。;
陈薇:在辞职信上，你写道："因个人原因，申请离职。" -when=public_rel==0;
陈薇:这场风波过后，你的能力被所有人看在眼里。 -when=public_rel==1;
你:然后呢？;
陈薇:很快在另一家公司找到了更好的职位。 -when=public_rel==0;
陈薇:很快被提拔为副总裁候选人。 -when=public_rel==1;
陈薇:项目总监，年薪翻倍。 -when=public_rel==0;
陈薇:薪资和地位都更上一层楼。 -when=public_rel==1;
你:那我们呢？;
陈薇:不再是上下级，而是平等的恋人。;
"""


def test_lines_under_one_condition_in_a_run_are_one_alternative() -> None:
    said = parse(INTERLEAVED, "start.txt", "webgal", ParseOptions())
    second_run = said[4:8]
    assert [u.text for u in second_run] == [
        "很快在另一家公司找到了更好的职位。",
        "项目总监，年薪翻倍。",
        "很快被提拔为副总裁候选人。",
        "薪资和地位都更上一层楼。",
    ]
    assert len({u.branch for u in second_run}) == 2
    assert second_run[0].branch == second_run[1].branch


def test_the_lines_after_alternatives_keep_her_reply_before_them(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text(INTERLEAVED, "utf-8")
    settings = DataprepSettings(
        lead_aliases=["你"], character_aliases=["陈薇"], eval_ratio=0, user_placeholder=False
    )
    pairs = [(s.prompt, s.reply) for s in run_pipeline(settings, [path]).train]
    assert ("然后呢？", "很快在另一家公司找到了更好的职位。\n项目总监，年薪翻倍。") in pairs
    assert ("然后呢？", "很快被提拔为副总裁候选人。\n薪资和地位都更上一层楼。") in pairs
    assert ("那我们呢？", "不再是上下级，而是平等的恋人。") in pairs
    # No lead line is glued to the one before the alternatives.
    assert not any("你做出了选择。" in prompt and "然后呢" in prompt for prompt, _ in pairs)


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

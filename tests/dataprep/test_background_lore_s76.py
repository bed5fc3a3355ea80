"""Session 76 lore review of background facts: a `## Q&A` section of Q:/A: pairs gave every
question all the answers glued together; bullets, `**bold**`, links and tables went into her
replies; a `###` heading was glued into the prose ("搬走了。学校学校只剩下…"); answers naming
her beside a 我, and speaker labels (`亚托莉说：“…”`, a two-speaker transcript), went by
without a note while アトリです！ got one; topics were asked "Tell me about Who is Natsuki?.",
"夏生についてについて", "能说说你的夏生吗？"; the lead's name was replaced in answers only,
silently; a one-line file gave a 3.6 MB message; a file of `#` headings said nothing of why."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.background import Asking, Lore, background_pool, first_person, read_lore
from dataprep.clean import placeholder_replacer
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline

ALIASES = ["亚托莉", "ATRI", "Atri", "アトリ"]
DEFAULT = DataprepSettings().background_questions
SCRIPT = "".join(
    f"夏生：早上好，第{n}天。\n亚托莉：早上好，夏生！今天也要加油哦。{n}\n" for n in range(12)
)
QA = """## Q&A
Q: 你是机器人吗？
A: 是的！我是高性能的仿生机器人。
Q: 你喜欢吃什么？
A: 螃蟹！美味就是正义！
Q: 你的主人是谁？
A: 是夏生先生！
"""


def lore(tmp_path: Path, name: str, text: str) -> Lore:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_lore(path)


def pool_of(tmp_path: Path, name: str, text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(question, answer) of every sample the file gives at the default questions, with the
    lead 夏生/Natsuki made {{user}}, and the notes."""
    asking = Asking(
        DEFAULT,
        ALIASES,
        character="ATRI",
        replace=placeholder_replacer(["夏生", "Natsuki"]),
    )
    pool = background_pool(lore(tmp_path, name, text), asking)
    return [(s.prompt, s.reply) for s in pool.samples], pool.notes


# 1. A section of Q&A pairs is a fact per pair, and its heading is asked nothing.


def test_each_question_of_a_qa_section_is_asked_with_the_answer_after_it(tmp_path: Path) -> None:
    pairs, _ = pool_of(tmp_path, "qa.md", QA)
    assert pairs == [
        ("你是机器人吗？", "是的！我是高性能的仿生机器人。"),
        ("你喜欢吃什么？", "螃蟹！美味就是正义！"),
        ("你的主人是谁？", "是{{user}}先生！"),
    ]


def test_text_before_the_pairs_is_the_headings_fact_and_one_pair_keeps_its_topic(
    tmp_path: Path,
) -> None:
    text = (
        "## 小镇\n小镇在海边。\nQ: 小镇怎么了？\nA: 在沉入大海。\nQ: 还有人吗？\nA: 很少了。\n"
        "## 名字\n问：你叫什么名字？\n答：我叫亚托莉！\n"
    )
    facts = lore(tmp_path, "lore.md", text).facts
    assert [(f.topic, f.answer, f.questions, f.label) for f in facts] == [
        ("小镇", "小镇在海边。", [], "fact 1 (小镇)"),
        ("", "在沉入大海。", ["小镇怎么了？"], "fact 2 (小镇: 小镇怎么了？)"),
        ("", "很少了。", ["还有人吗？"], "fact 3 (小镇: 还有人吗？)"),
        ("名字", "我叫亚托莉！", ["你叫什么名字？"], "fact 4 (名字)"),
    ]


# 3. and 4. Her answer is the text a reader sees; a table is left out; ### is its own line.


def test_markdown_marks_are_left_out_of_her_answer(tmp_path: Path) -> None:
    text = (
        "## 身份\n- 我是仿生机器人\n- 外表和人类的女孩子一模一样\n* **高性能**是我的口头禅\n"
        "## 生日\n我的生日是8月**17日**。详见[维基](https://atri.fandom.com/wiki/ATRI)。\n"
        "## Likes\n* Eating\n* Being *praised* by __Natsuki__\n1. The `sea`\n> Always.\n"
    )
    answers = [f.answer for f in lore(tmp_path, "lore.md", text).facts]
    assert answers == [
        "我是仿生机器人\n外表和人类的女孩子一模一样\n高性能是我的口头禅",
        "我的生日是8月17日。详见维基。",
        "Eating\nBeing praised by Natsuki\n1. The sea\nAlways.",
    ]


def test_a_fact_with_a_table_is_left_out_and_named(tmp_path: Path) -> None:
    text = (
        "## 名字\n我叫亚托莉！\n"
        "## 喜欢的东西\n| 食物 | 喜欢程度 |\n|---|---|\n| 螃蟹 | ★★★ |\n| 拉面 | ★★ |\n"
    )
    pairs, notes = pool_of(tmp_path, "lore.md", text)
    assert {answer for _, answer in pairs} == {"我叫亚托莉！"}
    (note,) = notes
    assert "table" in note and "fact 2 (喜欢的东西)" in note


def test_a_level_three_heading_is_a_line_of_its_own(tmp_path: Path) -> None:
    text = (
        "## 沉没的小镇\n小镇因为海平面上升而慢慢沉入海中。\n镇上的居民大多已经搬走了。\n\n"
        "### 学校\n学校只剩下几个学生。\n"
    )
    (fact,) = lore(tmp_path, "lore.md", text).facts
    assert fact.answer == (
        "小镇因为海平面上升而慢慢沉入海中。镇上的居民大多已经搬走了。\n学校\n学校只剩下几个学生。"
    )


# 2. and 8. Narration and speaker labels are named, her own name given is not.


@pytest.mark.parametrize(
    "written",
    [
        "亚托莉喜欢螃蟹。我也喜欢大海。",
        "我个人认为亚托莉是最可爱的角色，她的台词很好笑。",
        "Atri loves crabs and I love her.",
        "亚托莉说：“我没有姐姐。”",
        '我没有姐姐。Atri said, "I have none."',
    ],
)
def test_her_name_beside_someone_elses_i_or_a_speaker_label_is_kept_as_written(
    written: str,
) -> None:
    assert first_person(written, ALIASES) is None


@pytest.mark.parametrize(
    "written", ["アトリです！高性能ですから！", "私はアトリです。", "我叫亚托莉！", "I'm Atri!"]
)
def test_her_name_given_by_her_is_her_own_words(written: str) -> None:
    assert first_person(written, ALIASES) == written


def test_narration_and_a_transcript_are_named_in_notes(tmp_path: Path) -> None:
    text = (
        '[[fact]]\ntopic = "姐姐"\nanswer = "亚托莉说：“我没有姐姐。”"\n'
        '[[fact]]\ntopic = "对话"\nanswer = "夏生：“你是谁？”\\n亚托莉：“我是高性能机器人！”"\n'
        '[[fact]]\ntopic = "名前"\nanswer = "アトリです！高性能ですから！"\n'
    )
    _, notes = pool_of(tmp_path, "lore.toml", text)
    as_written = next(n for n in notes if "instead of as ATRI" in n)
    assert "fact 1 (姐姐)" in as_written
    assert "fact 2" not in as_written and "fact 3" not in as_written
    transcript = next(n for n in notes if "dialogue" in n)
    assert "fact 2 (对话)" in transcript and "the user's lines" in transcript


# 5. and 6. Questions from topics read right; the lead's name is {{user}} in both turns.


def test_topics_are_asked_as_a_question_reads(tmp_path: Path) -> None:
    text = (
        "## Who is Natsuki?\nNatsuki is a boy who came back from Tokyo.\n"
        "## Birthday\nMy birthday is the day I was found!\n"
        "## The sunken town\nThe town is slowly sinking into the sea.\n"
        "## Eden\nEden is the city of the rich.\n"
    )
    asked = [question for question, _ in pool_of(tmp_path, "en.md", text)[0]]
    assert asked == [
        "Who is {{user}}?",
        "Tell me about your birthday.",
        "What can you tell me about your birthday?",
        "Tell me about the sunken town.",
        "What can you tell me about the sunken town?",
        "Tell me about Eden.",
        "What can you tell me about Eden?",
    ]


def test_a_japanese_topic_with_its_own_about_and_the_leads_name(tmp_path: Path) -> None:
    text = (
        "## 夏生について\n夏生さんは私のご主人様です。\n"
        "## 夏生\n夏生先生是我的主人，他从东京回来。\n"
    )
    asked = [question for question, _ in pool_of(tmp_path, "lore.md", text)[0]]
    assert asked == [
        "{{user}}について教えて。",
        "{{user}}のこと、話してくれる？",
        "能说说{{user}}吗？",
        "关于{{user}}，跟我讲讲吧。",
    ]


def test_a_run_pairs_qa_and_counts_the_leads_name_in_a_note(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    background = tmp_path / "qa.md"
    background.write_text(QA + "## Natsuki\nNatsuki is my master.\n", encoding="utf-8")
    settings = DataprepSettings(
        lead_aliases=["夏生", "Natsuki"],
        character_aliases=["亚托莉"],
        background=str(background),
        background_ratio=0.5,
        eval_ratio=0,
    )
    result = run_pipeline(settings, [script])
    facts = {(s.prompt, s.reply) for s in result.train if s.from_background}
    assert ("你喜欢吃什么？", "螃蟹！美味就是正义！") in facts
    assert ("Tell me about {{user}}.", "{{user}} is my master.") in facts
    assert not any("Q&A" in question for question, _ in facts)
    (note,) = [n for n in result.notes if "lead's name" in n]
    assert "in 2 background answers and 2 background questions" in note
    assert "fact 3 (Q&A: 你的主人是谁？), fact 4 (Natsuki)" in note


# 7. and 9. Short messages that say what to change.


def test_a_whole_file_on_one_heading_line_is_named_in_a_short_message(tmp_path: Path) -> None:
    with pytest.raises(DataprepError) as refused:
        lore(tmp_path, "huge.md", "## 事实 " + "我喜欢螃蟹。" * 200000)
    message = str(refused.value)
    assert len(message) < 400
    topic = "事实 " + "我喜欢螃蟹。" * 6 + "我"  # its first 40 characters
    assert f"fact 1 ({topic}…)" in message
    assert "on the ## heading line" in message


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("# 名字\n我叫亚托莉。\n# 喜欢\n螃蟹。\n", "found 2 # headings;"),
        (
            "# ATRI\n### 名字\n我叫亚托莉。\n### 喜欢\n螃蟹。\n",
            "found 1 # heading and 2 ### headings;",
        ),
    ],
)
def test_a_file_without_a_level_two_heading_says_what_it_has(
    tmp_path: Path, text: str, found: str
) -> None:
    with pytest.raises(DataprepError, match="no facts found") as refused:
        lore(tmp_path, "lore.md", text)
    assert found in str(refused.value) and "a fact is a ## section" in str(refused.value)

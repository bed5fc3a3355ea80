"""Session 66 review of background ("lore") files: a TOML file named lore.txt was read as
one Markdown fact whose answer was its whole source; `# Title` was a fact; "ATRI is" became
"I is" and アトリの "我の"; Chinese topics were asked in the card's English; and empty
answers, facts nothing asks, misspelt keys, repeated facts, overlong answers and Traditional
facts under `traditional_to_simplified` went by without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.background import (
    Asking,
    Fact,
    Lore,
    background_pool,
    first_person,
    parse_markdown,
    read_lore,
    templates_for,
)
from dataprep.errors import DataprepError
from dataprep.pipeline import run_pipeline

FACTS = '[[fact]]\ntopic = "名字"\nanswer = "我叫亚托莉！"\nquestions = ["你叫什么名字？"]\n'
DEFAULT = DataprepSettings().background_questions
SCRIPT = "".join(
    f"夏生：早上好，第{n}天。\n亚托莉：早上好，夏生！今天也要加油哦。{n}\n" for n in range(12)
)


def lore(tmp_path: Path, name: str, text: str) -> Lore:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_lore(path)


def pool_of(tmp_path: Path, text: str, **asking: object) -> tuple[list[tuple[str, str]], list[str]]:
    """(question, answer) of every sample a TOML lore file gives, and the notes."""
    rules = {"templates": ["说说你的{topic}。"], "character_aliases": ["亚托莉"], **asking}
    pool = background_pool(lore(tmp_path, "lore.toml", text), Asking(**rules))  # type: ignore[arg-type]
    return [(s.prompt, s.reply) for s in pool.samples], pool.notes


# 1. The file's name says how it is read.


def test_a_toml_lore_named_txt_is_read_as_toml_with_a_note(tmp_path: Path) -> None:
    read = lore(tmp_path, "lore.txt", FACTS)
    assert [(f.topic, f.answer) for f in read.facts] == [("名字", "我叫亚托莉！")]
    assert len(read.notes) == 1 and "name it .toml" in read.notes[0]


@pytest.mark.parametrize("name", ["lore.json", "lore.yaml", "lore.txt", "lore"])
def test_another_kind_of_file_is_refused_naming_what_is_expected(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataprepError, match=r"expected a \.toml \(\[\[fact\]\] tables\) or \.md"):
        lore(tmp_path, name, '{"fact": [{"topic": "名字", "answer": "我叫亚托莉。"}]}')


def test_markdown_is_read_from_md_and_markdown(tmp_path: Path) -> None:
    for name in ("lore.md", "lore.markdown"):
        assert [f.topic for f in lore(tmp_path, name, "## 名字\n我叫亚托莉。\n").facts] == ["名字"]


# 2. Only ## opens a fact.


def test_a_markdown_title_and_its_preface_are_no_fact() -> None:
    facts = parse_markdown(
        "# ATRI 设定集\n\n这是我整理的设定。\n\n## 身份\n我是仿生机器人。\n### 型号\nYHN-04B-009\n"
        "# 附录\n不是设定。\n"
    )
    assert [(f.topic, f.answer) for f in facts] == [("身份", "我是仿生机器人。\n型号\nYHN-04B-009")]


# 3. First person only where it reads right.


@pytest.mark.parametrize(
    "written",
    [
        "ATRI is a robot girl. Atri loves crabs.",  # was "I is a robot girl. I loves crabs."
        "アトリの誕生日は8月28日です。",  # was 我の誕生日
        "亚托莉最喜欢螃蟹，她说美味就是正义。",  # was 我最喜欢螃蟹，她说…
        "夏生和亚托莉是朋友。",  # 夏生和我 would do, but the name is no clause's subject
    ],
)
def test_an_answer_that_cannot_be_rewritten_safely_is_kept_as_written(written: str) -> None:
    aliases = ["亚托莉", "ATRI", "Atri", "アトリ"]
    assert first_person(written, aliases) is None


def test_a_chinese_subject_becomes_i_and_a_name_given_stays() -> None:
    aliases = ["亚托莉", "ATRI"]
    assert first_person("亚托莉，全名 ATRI。", aliases) == "我，全名 ATRI。"  # was 全名 I
    assert first_person("亚托莉的生日是8月28日，亚托莉喜欢螃蟹。", aliases) == (
        "我的生日是8月28日，我喜欢螃蟹。"
    )


def test_answers_left_in_the_third_person_are_named_once(tmp_path: Path) -> None:
    text = (
        '[[fact]]\ntopic = "食物"\nanswer = "亚托莉最喜欢螃蟹，她说美味就是正义。"\n'
        '[[fact]]\ntopic = "誕生日"\nanswer = "亚托莉の誕生日は8月28日です。"\n' + FACTS
    )
    _, notes = pool_of(tmp_path, text, character="亚托莉")
    (note,) = notes
    assert "fact 1 (食物), fact 2 (誕生日)" in note and "as 亚托莉 would say it" in note


# 4. The default questions are in each fact's language.


def test_left_at_the_default_each_fact_is_asked_in_its_own_language() -> None:
    chinese = Fact("喜欢的食物", "螃蟹！")
    english = Fact("ship", "My ship is the Sea Lark.")
    japanese = Fact("誕生日", "8月28日です。")
    assert templates_for(chinese, DEFAULT, "en")[0] == "能说说你的{topic}吗？"
    assert templates_for(english, DEFAULT, "zh")[0] == "Tell me about your {topic}."
    assert templates_for(japanese, DEFAULT, "en")[0] == "{topic}について教えて。"
    assert templates_for(Fact("2024", "8/28"), DEFAULT, "ja")[0] == "{topic}について教えて。"
    written = ["Tell me about {topic}."]
    assert templates_for(chinese, written, "zh") == written


# 5. Mistakes in a lore file are refused or said.


def test_an_empty_answer_is_refused_naming_the_fact(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match=r"lore\.toml: fact 2 \(食物\) has an empty answer"):
        lore(tmp_path, "lore.toml", FACTS + '[[fact]]\ntopic = "食物"\nanswer = ""\n')
    with pytest.raises(DataprepError, match=r"lore\.md: fact 1 \(空\) has an empty answer"):
        lore(tmp_path, "lore.md", "## 空\n\n## 名字\n我叫亚托莉。\n")


def test_a_fact_nothing_asks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match=r"lore\.toml: fact 1 has neither a topic nor"):
        pool_of(tmp_path, '[[fact]]\nanswer = "我是高性能的！"\n')


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    read = lore(tmp_path, "lore.toml", FACTS.replace("questions", "question"))
    (note,) = read.notes
    assert "question in fact 1 (名字)" in note


def test_a_repeated_fact_gives_its_samples_once_and_says_so(tmp_path: Path) -> None:
    pairs, notes = pool_of(tmp_path, FACTS + FACTS)
    assert pairs == [("你叫什么名字？", "我叫亚托莉！"), ("说说你的名字。", "我叫亚托莉！")]
    assert notes == [
        "2 background question/answer pairs another fact already gives were kept once: those"
        " of fact 2 (名字)."
    ]


def test_an_answer_over_max_reply_chars_is_left_out_and_named(tmp_path: Path) -> None:
    long = '[[fact]]\ntopic = "大海"\nanswer = "' + "很喜欢大海，" * 80 + '"\n'
    pairs, notes = pool_of(tmp_path, FACTS + long, max_reply_chars=400)
    assert [answer for _, answer in pairs] == ["我叫亚托莉！"] * 2
    (note,) = notes
    assert "max_reply_chars (400)" in note and "fact 2 (大海)" in note


def test_a_run_converts_facts_to_simplified_and_limits_their_length(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    background = tmp_path / "lore.toml"
    background.write_text(
        '[[fact]]\ntopic = "身份"\nanswer = "亞托莉是仿生機器人，喜歡螃蟹。"\nquestions = ["妳是誰？"]\n'
        '[[fact]]\ntopic = "大海"\nanswer = "' + "我很喜欢大海。" * 10 + '"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(
        lead_aliases=["夏生"],
        character_aliases=["亚托莉"],
        traditional_to_simplified=True,
        max_reply_chars=60,
        background=str(background),
        background_ratio=0.5,
        eval_ratio=0,
    )
    result = run_pipeline(settings, [script])
    facts = {(s.prompt, s.reply) for s in result.train if s.from_background}
    assert facts == {
        ("妳是谁？", "我是仿生机器人，喜欢螃蟹。"),
        ("能说说你的身份吗？", "我是仿生机器人，喜欢螃蟹。"),
        ("关于身份，跟我讲讲吧。", "我是仿生机器人，喜欢螃蟹。"),
    }
    assert any("fact 2 (大海)" in note for note in result.notes)

"""Session 76 review fixes: her line after narration that gives someone else's words
(`"Are you okay?" I asked.`, `我问她“你没事吧？”`) was joined to her reply before it; `##
About me` was asked "Tell me about me."; a Markdown transcript missed its dialogue note;
long answers and narration lines took seconds (quadratic)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dataprep import background as bg
from dataprep.pipeline import narration_giving_words
from tests.dataprep.test_fan_scripts_s74 import _exchanges, _prep

# His question in narration (English, Chinese), or another's words: her line after it
# answers that, not the lead's line before; it has no lead turn, so no sample.
NOT_HERS = """\
Natsuki: What's for dinner?
Atri: Crab, of course!
"Are you feeling okay?" I asked.
Atri: I'm fine, my battery is just a little low.

夏生：晚饭吃什么？
亚托莉：今天的晚饭是螃蟹！
我看她脸色不对，问她“你没事吧？”
亚托莉：我没事哦，只是电池有点低。

夏生：你好。
亚托莉：你好！
他说“你好”。
亚托莉：你好呀。
"""
# Her words in narration, said after the quote: her next line goes on her reply.
HERS = """\
Natsuki: Can you cook?
Atri: Of course!
"Crab is my specialty," she said proudly.
Atri: Wait a moment!

夏生：准备好了吗？
亚托莉：马上！
「もう少しです」と彼女は言った。
亚托莉：好了！
"""


def test_her_line_after_someone_elses_narrated_words_is_no_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenes = [*NOT_HERS.split("\n\n"), *HERS.split("\n\n")]  # a file each: one scene
    files: dict[str, str | bytes] = {f"{n}.txt": scene for n, scene in enumerate(scenes)}
    code, said, out = _prep(tmp_path, monkeypatch, files)
    assert code == 0, said
    assert sorted(_exchanges(out)) == sorted(
        [
            [("human", "What's for dinner?"), ("gpt", "Crab, of course!")],
            [("human", "晚饭吃什么？"), ("gpt", "今天的晚饭是螃蟹！")],
            [("human", "你好。"), ("gpt", "你好！")],
            [("human", "Can you cook?"), ("gpt", "Of course!\nWait a moment!")],
            [("human", "准备好了吗？"), ("gpt", "马上！\n好了！")],
        ]
    )
    assert "no_lead_before = 3" in said


@pytest.mark.parametrize(
    ("line", "whose"),
    [
        ('"Are you feeling okay?" I asked.', "words"),
        ("我看她脸色不对，问她“你没事吧？”", "words"),
        ("他说“你好”。", "words"),
        ("“走吧”", "words"),
        ("她歪着头说「还差一点」。", "her words"),
        ("我愣住了，她笑着说「走吧」。", "her words"),
        ('Turning around, she said, "Let\'s go."', "her words"),
        ('"Hi," said Atri.', "her words"),
        ("亚托莉小声说了句什么。", "her words"),
        ("夏生对亚托莉说“你好”。", "words"),
        ("她说「好」，我回答「嗯」。", "words"),
        ("脑海里闪过“迟到”二字。", None),
    ],
)
def test_whose_words_narration_gives(line: str, whose: str | None) -> None:
    speaker = narration_giving_words(["亚托莉", "Atri"], None)(line)
    assert (speaker.split(": ")[-1] if speaker else None) == whose


def _questions(tmp_path: Path, markdown: str, language: str) -> dict[str, list[str]]:
    path = tmp_path / "lore.md"
    path.write_text(markdown, encoding="utf-8")
    asking = bg.Asking(
        templates=bg.QUESTIONS_BY_LANGUAGE[language],
        character_aliases=["Atri", "亚托莉"],
        character="Atri",
        card_language=language,
    )
    pool = bg.background_pool(bg.read_lore(path), asking)
    return {label: [s.prompt for s in samples] for label, samples in pool.facts}


def test_about_me_is_asked_about_yourself_and_a_title_reads_lower(tmp_path: Path) -> None:
    asked = _questions(
        tmp_path,
        "## About me\nI am a high-performance robot.\n\n## Favorite Food\nI love crabs!\n\n"
        "## The Sunken Town\nThe sea swallowed it.\n",
        "en",
    )
    assert asked["fact 1 (About me)"] == [
        "Tell me about yourself.",
        "What can you tell me about yourself?",
    ]
    assert asked["fact 2 (Favorite Food)"][0] == "Tell me about your favorite food."
    # Not all common words: a name, only its article lowered.
    assert asked["fact 3 (The Sunken Town)"][0] == "Tell me about the Sunken Town."
    asked = _questions(tmp_path, "## 关于我\n我是高性能的机器人。\n", "zh")
    assert asked["fact 1 (关于我)"] == ["能说说你自己吗？", "关于你自己，跟我讲讲吧。"]


def test_a_markdown_transcript_gets_the_dialogue_note(tmp_path: Path) -> None:
    path = tmp_path / "lore.md"
    path.write_text(
        '## Talk\nNatsuki: "Hi."\nAtri: "Hello!"\n\n'
        "## 对话\n夏生：“你是谁？”\n\n亚托莉：“我是高性能机器人！”\n",
        encoding="utf-8",
    )
    facts = bg.read_lore(path).facts
    assert [f.answer for f in facts] == [
        'Natsuki: "Hi."\nAtri: "Hello!"',
        "夏生：“你是谁？”\n亚托莉：“我是高性能机器人！”",
    ]
    assert [bg.speakers_labelled(f.answer) for f in facts] == [
        {"Natsuki", "Atri"},
        {"夏生", "亚托莉"},
    ]


def _seconds(run: object, *args: object) -> float:
    assert callable(run)
    began = time.perf_counter()
    run(*args)
    return time.perf_counter() - began


# Inputs the old code took 2.5 to 10 s on (quadratic, or a name's runs tried at every
# place); each is linear now, well under a second.
def test_long_answers_and_narration_lines_take_linear_time() -> None:
    assert _seconds(bg.first_person, "亚托莉，" * 50_000, ["亚托莉"]) < 2
    assert _seconds(bg.speakers_labelled, "他说“" + "字" * 1_000_000) < 2
    gives_words = narration_giving_words(["亚托莉"], None)
    assert _seconds(gives_words, "脑海里闪过“迟到”二字" * 60_000) < 2

"""Session 76: the rule of session 75 (narration that gives someone's words ends the
exchange) went too far and not far enough. A quoted word or title in narration
(`脑海里闪过“迟到”二字`, `the word "robot"`) ended the exchange as if someone had spoken;
her line after narration that quoted her was dropped as "no_lead_before", where after any
other narration it goes on her turn; and her alias written in Traditional script in a
line of narration was missed under `traditional_to_simplified`, the line being compared
before it was converted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dataprep.test_fan_scripts_s74 import _exchanges, _prep, _prompts, _replies

# Each scene: his two lines around narration that quotes a term, so they are one prompt.
TERMS = """\
夏生：你今天怎么这么早？
脑海里闪过“迟到”二字。
夏生：快说啊。
亚托莉：因为我是高性能的机器人！

夏生：你在看什么？
他想起了那本《“机器人”的心》。
夏生：给我看看。
亚托莉：这是秘密！

夏生：これは何？
「高性能」という言葉が頭に浮かんだ。
夏生：答えろ。
アトリ：ロボットですから！

Natsuki: Why so early?
The word "robot" stuck with me.
Natsuki: Well?
Atri: Because I'm high-performance!
"""
# The same scenes with someone's words quoted: each ends the exchange as before.
WORDS = """\
夏生：你今天怎么这么早？
脑海里回响着“我会一直在你身边”这句话。
夏生：快说啊。
亚托莉：因为我是高性能的机器人！

夏生：你在看什么？
她头也不抬地说“秘密”。
夏生：给我看看。
亚托莉：这是秘密！

夏生：これは何？
「ロボットですから」と彼女は胸を張った。
夏生：答えろ。
アトリ：高性能ですから！

Natsuki: Why so early?
"Because I'm high-performance," she said.
Natsuki: Well?
Atri: I said it already!
"""


def test_a_quoted_term_ends_no_exchange_quoted_words_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"terms.txt": TERMS, "words.txt": WORDS})
    assert code == 0, said
    assert _prompts(out) == {
        # A term: his lines on either side of it are one prompt, as around any narration.
        "你今天怎么这么早？\n快说啊。",
        "你在看什么？\n给我看看。",
        "これは何？\n答えろ。",
        "Why so early?\nWell?",
        # Words (a sentence named as one, after a verb, before と, with its comma): she
        # answered there; his line before it is nobody's prompt.
        "快说啊。",
        "给我看看。",
        "答えろ。",
        "Well?",
    }
    assert len(_exchanges(out)) == 8


# Her lines on either side of narration that quotes her: one reply, as around a plain
# narration line; the lead's line after such narration still starts afresh (session 75).
BETWEEN_HER_LINES = """\
夏生：你会做饭吗？
亚托莉：当然会！
她得意地说「螃蟹料理是我的拿手好戏」，然后跑进了厨房。
亚托莉：请稍等！
"""
THEN_HIS = """\
夏生：好吃吗？
亚托莉：我尝尝。
她歪着头说「还差一点」。
夏生：哪里差？
亚托莉：盐放少了！
"""


def test_her_line_after_narration_quoting_her_stays_her_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(
        tmp_path, monkeypatch, {"between.txt": BETWEEN_HER_LINES, "his.txt": THEN_HIS}
    )
    assert code == 0, said
    assert [("human", "你会做饭吗？"), ("gpt", "当然会！\n请稍等！")] in _exchanges(out)
    # Her words in the narration are nobody's history: his next line starts a new one.
    assert [("human", "哪里差？"), ("gpt", "盐放少了！")] in _exchanges(out)
    assert [("human", "好吃吗？"), ("gpt", "我尝尝。")] in _exchanges(out)
    assert len(_exchanges(out)) == 3
    assert "no_lead_before" not in said


def test_with_stage_directions_her_line_after_her_words_is_hers_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = (
        "夏生：你会做饭吗？\n亚托莉：当然会！\n她点了点头。\n"
        "她得意地说「螃蟹料理是我的拿手好戏」。\n她跑进了厨房。\n亚托莉：请稍等！\n"
    )
    code, said, out = _prep(tmp_path, monkeypatch, {"staged.txt": script}, 'narration = "stage"\n')
    assert code == 0, said
    # The direction before her words leads nothing; the one after them leads her line.
    assert _replies(out) == {"当然会！\n（她跑进了厨房。）请稍等！"}


TRADITIONAL = """\
夏生：你在嘀咕什麼？
亞托莉小聲說了句什麼，低下了頭。
夏生：大聲點！
亞托莉：沒什麼！
"""
SIMPLIFIED = """\
夏生：你在嘀咕什么？
亚托莉小声说了句什么，低下了头。
夏生：大声点！
亚托莉：没什么！
"""


@pytest.mark.parametrize(
    ("alias", "script"),
    [("亚托莉", TRADITIONAL), ("亞托莉", SIMPLIFIED)],
    ids=["t-in-script", "t-in-config"],
)
def test_her_alias_in_narration_is_found_in_either_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alias: str, script: str
) -> None:
    pytest.importorskip("opencc")
    config = f'character_aliases = ["ATRI", "{alias}"]\ntraditional_to_simplified = true\n'
    code, said, out = _prep(tmp_path, monkeypatch, {"s.txt": script}, config)
    assert code == 0, said
    assert _prompts(out) == {"大声点！"}


def test_a_narrators_label_quoting_her_between_her_lines_joins_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "夏生：你会做饭吗？\n亚托莉：当然会！\n旁白：她说「交给我吧」。\n亚托莉：请稍等！\n"
    code, said, out = _prep(tmp_path, monkeypatch, {"narrator.txt": script})
    assert code == 0, said
    assert _exchanges(out) == [[("human", "你会做饭吗？"), ("gpt", "当然会！\n请稍等！")]]

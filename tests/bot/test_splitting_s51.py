"""Session 51: how a reply splits into parts.

Text around a code block too long for one part goes with the block's first and last
parts (on QQ each part is one of `max_reply_parts` messages, and an outro was lost).
A run of end marks ("……", "？！") is one sentence end: a part began with "…" or "！".
A hard cut keeps a grapheme cluster whole where the old rules split one (Thai SARA AM,
decomposed Hangul, an Arabic prepended mark).
"""

from __future__ import annotations

import pytest

from bot.qq.text import reply_parts
from bot.splitting import FENCE, _sentences, split_message

LINE = 'print("hello world")'


def block(lines: int) -> str:
    return f"{FENCE}python\n" + f"{LINE}\n" * lines + FENCE


def test_text_around_a_long_code_block_joins_its_first_and_last_parts() -> None:
    parts = split_message(f"这是代码：\n{block(30)}\n希望有用！", 500)
    assert len(parts) == 2 and all(len(p) <= 500 for p in parts)
    assert parts[0].startswith(f"这是代码：\n{FENCE}python\n{LINE}\n")
    assert parts[-1].endswith(f"{LINE}\n{FENCE}\n希望有用！")
    assert all(p.count(FENCE) == 2 for p in parts)
    code = [line for p in parts for line in p.split("\n") if line == LINE]
    assert len(code) == 30


def test_an_outro_after_a_long_code_block_survives_the_qq_parts_cap() -> None:
    parts = reply_parts(f"这是代码：\n{block(60)}\n希望有用！", 500, 4)
    assert len(parts) == 3 and parts[-1].endswith("希望有用！")
    assert all(len(p) <= 500 and p.count(FENCE) == 2 for p in parts)


def test_an_intro_with_no_room_for_a_code_line_beside_it_is_a_part_of_its_own() -> None:
    intro = "说明。" * 160  # 480 characters: no 20-character line fits after it
    parts = split_message(f"{intro}\n{block(30)}", 500)
    assert parts[0] == intro
    assert all(len(p) <= 500 and p.count(FENCE) == 2 for p in parts[1:])


def test_a_block_of_only_blank_lines_leaves_no_empty_part() -> None:
    assert split_message(FENCE + "\n" * 600 + FENCE, 100) == []
    assert split_message("ab" + FENCE + "\n" * 600 + FENCE, 100) == [f"ab{FENCE}\n\n{FENCE}"]


def test_a_run_of_end_marks_ends_one_sentence() -> None:
    assert _sentences("好的……是吗？！真的。。。") == ["好的……", "是吗？！", "真的。。。"]
    assert _sentences("wait...what? Really?! Yes.") == ["wait...what? ", "Really?! ", "Yes."]
    assert _sentences("「好！」？你呢") == ["「好！」？", "你呢"]


@pytest.mark.parametrize("marks", ["……", "？！", "!?", "..."])
def test_a_part_never_starts_inside_a_run_of_end_marks(marks: str) -> None:
    parts = split_message("我我。" * 2 + "我我我" + marks + "你" * 5, 10)
    assert parts[0] == "我我。我我。" and parts[1].startswith(f"我我我{marks}")


@pytest.mark.parametrize("marks", ["……", "？！"])
def test_a_hard_cut_keeps_a_run_of_end_marks_whole(marks: str) -> None:
    assert split_message("我" * 9 + marks + "你" * 5, 10) == ["我" * 9, marks + "你" * 5]


@pytest.mark.parametrize(
    ("text", "limit", "cluster"),
    [
        ("a" * 19 + "\u0e01\u0e33", 20, "\u0e01\u0e33"),  # Thai กำ: SARA AM is category Lo
        ("a" * 19 + "\u0e81\u0eb3", 20, "\u0e81\u0eb3"),  # Lao ກຳ
        ("aaaa" + "\u1100\u1161\u11a8", 6, "\u1100\u1161\u11a8"),  # 각 as three jamo
        ("a" * 11 + "\u0600a", 12, "\u0600a"),  # an Arabic number sign joins what follows
    ],
    ids=["thai-sara-am", "lao-sara-am", "hangul-jamo", "prepend"],
)
def test_a_hard_cut_keeps_a_grapheme_cluster_whole(text: str, limit: int, cluster: str) -> None:
    parts = split_message(text, limit)
    assert "".join(parts) == text and all(len(p) <= limit for p in parts)
    assert any(cluster in part for part in parts), parts

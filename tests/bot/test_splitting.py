"""Splitting long replies for platforms with a message size limit."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from bot.splitting import split_message


def test_short_text_is_one_part() -> None:
    assert split_message("  你好！  ", 10) == ["你好！"]
    assert split_message("   ", 10) == []


def test_splits_at_sentence_boundaries() -> None:
    text = "第一句话。第二句话！第三句话？"
    assert split_message(text, 12) == ["第一句话。第二句话！", "第三句话？"]


def test_code_blocks_stay_whole() -> None:
    code = "```python\nprint('a')\nprint('b')\n```"
    text = "Look at this. " * 3 + code + " Done."
    parts = split_message(text, 60)
    assert any(code in p for p in parts)


def test_unbreakable_text_is_cut_hard() -> None:
    parts = split_message("a" * 25, 10)
    assert parts == ["a" * 10, "a" * 10, "a" * 5]


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=1, max_value=400))
def test_parts_respect_the_limit_and_keep_every_character(text: str, limit: int) -> None:
    assume("```" not in text)  # split code blocks gain fences (tested above)
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash("".join(parts)) == squash(text)


def test_a_long_code_block_is_split_with_each_part_fenced() -> None:
    code = "\n".join(f"print({n})  # line {n}" for n in range(200))
    text = f"看这段代码：\n```python\n{code}\n```\n就是这样。"
    parts = split_message(text, 500)
    fenced = [p for p in parts if "print(" in p]
    assert len(fenced) > 1 and all(len(p) <= 500 for p in parts)
    # The intro goes with the first code part, the outro with the last (session 51).
    assert parts[0].startswith("看这段代码：\n```python\n") and parts[-1].endswith(
        "\n```\n就是这样。"
    )
    code_parts = [p.removeprefix("看这段代码：\n").removesuffix("\n就是这样。") for p in fenced]
    for part in code_parts:
        assert part.startswith("```python\n") and part.endswith("\n```")
        assert part.count("```") == 2
    lines = [line for p in code_parts for line in p.split("\n")[1:-1]]
    assert "\n".join(lines) == code

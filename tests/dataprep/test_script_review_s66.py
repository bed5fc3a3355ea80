"""A fan's messy dumps (session 66's review): the shapes real extraction tools write."""

from __future__ import annotations

from pathlib import Path

from dataprep.records import Role
from tests.dataprep.test_clean_qa37 import run


def test_the_leads_chinese_name_in_braces_is_the_placeholder(tmp_path: Path) -> None:
    """A translation dump's `{夏生}` became `{{{user}}}`: the braces stayed around the
    placeholder the name replacer put in. Another name in braces is left as written."""
    samples, _ = run(
        tmp_path,
        "夏生：「早上好，亚托莉。」\n亚托莉：「早上好，{夏生}先生！[夏生]，{湊}也来了哦。」\n",
    )
    assert samples == [
        [
            (Role.LEAD, "早上好，亚托莉。"),
            (Role.CHARACTER, "早上好，{{user}}先生！{{user}}，{湊}也来了哦。"),
        ]
    ]


def test_a_voice_reference_before_the_speaker_leaves_the_line_hers(tmp_path: Path) -> None:
    """`[V:atr0001]亚托莉：「…」` was narration: her line lost, the lead's two joined."""
    samples, _ = run(
        tmp_path,
        "[V:nat0001]夏生：「早。」\n"
        "[V:atr0001]亚托莉：「早上好！」\n"
        "夏生：「学校。」\n"
        "亚托莉[V:atr0002]：「我也要去！」\n"
        "【voice:nat_0002】夏生：「好。」\n"
        "[语音：atr_0003]亚托莉：「[V:atr0004]出发吧！」\n",
        drop_near_duplicates=False,
    )
    assert samples[-1] == [
        (Role.LEAD, "早。"),
        (Role.CHARACTER, "早上好！"),
        (Role.LEAD, "学校。"),
        (Role.CHARACTER, "我也要去！"),
        (Role.LEAD, "好。"),
        (Role.CHARACTER, "出发吧！"),
    ]


def test_web_novel_ruby_with_an_ascii_bar_goes_whole(tmp_path: Path) -> None:
    """`|夏生《なつき》さん` kept its bar (`|{{user}}さん`); a bar before a book title is text."""
    samples, _ = run(
        tmp_path,
        "夏生「|亜托莉《アトリ》、おはよう」\nアトリ「おはようございます！|夏生《なつき》さん。A|B《三体》」\n",
        lead_aliases=["夏生"],
        character_aliases=["アトリ", "亜托莉"],
    )
    assert samples[0][-1] == (Role.CHARACTER, "おはようございます！{{user}}さん。A|B《三体》")


def test_a_windows_path_keeps_its_backslash_n(tmp_path: Path) -> None:
    """`C:\\Users\\atri\\notes.txt` became `C:\\Users\\atri otes.txt` (its `\\n` a break)."""
    samples, _ = run(
        tmp_path,
        "Natsuki: Where is it?\nAtri: It is in C:\\Users\\atri\\notes.txt, Natsuki.\\nI saved it.\n",
    )
    assert samples[0][-1] == (
        Role.CHARACTER,
        "It is in C:\\Users\\atri\\notes.txt, {{user}}. I saved it.",
    )
